// Every answer the gateway's public listener can give, three ways: provoked
// from the real HTTP server, router and handlers (Kafka is librdkafka's
// in-process mock cluster, or an address nothing listens on), listed in
// gateway_answers.hpp, and documented in proto/openapi.yaml. Any difference
// in any direction fails, so code and document cannot drift apart.
#include "gateway_answers.hpp"

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include "fte/http/testing/openapi_answers.hpp"
#include "fte/oidc/base64.hpp"
#include "fte/oidc/testing/fake_jwks_endpoint.hpp"
#include "fte/oidc/testing/signing_key.hpp"
#include "gmail_push_handler.hpp"
#include "test_gateway.hpp"
#include "twilio_signature.hpp"

namespace fte::gateway {
namespace {

namespace bhttp = boost::beast::http;
using http::testing::AnswerKey;
using http::testing::Answers;
using namespace std::chrono_literals;

constexpr std::string_view kBrowserAccept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
using test_support::kBodyLimit;

Logger quiet() { return Logger::to_stderr("gateway-answers-test", spdlog::level::off); }

constexpr std::string_view kTwilioToken = "answers-test-token";
constexpr std::string_view kPublicBase = "https://support.example.com";

// With a token unless `configured` is false (503 channel_not_configured).
TwilioHandler::Options twilio_options(bool configured) {
  TwilioHandler::Options options;
  options.topic = "fte.channels.whatsapp.inbound";
  if (configured) options.auth_tokens = {std::string(kTwilioToken)};
  options.origin.public_base_url = std::string(kPublicBase);
  return options;
}

constexpr std::string_view kGmailAudience = "https://support.example.com/webhooks/gmail";
constexpr std::string_view kGmailServiceAccount = "gmail-push@example-project.iam.gserviceaccount.com";

// Configured with Google's keys from `keys`; not configured without them.
GmailPushHandler::Options gmail_options(const oidc::JwksCache* keys) {
  GmailPushHandler::Options options;
  options.topic = "fte.channels.email.inbound";
  if (keys != nullptr) {
    options.policy.audience = std::string(kGmailAudience);
    options.policy.email = std::string(kGmailServiceAccount);
  }
  return options;
}

// Google's side of a Gmail push: the key that signs its tokens, its JWKS
// endpoint on a loopback port (serving that key, or failing, for
// jwks_unavailable), and the gateway's cache of that endpoint.
class Google {
public:
  explicit Google(bool keys_available) {
    if (keys_available) {
      endpoint_.serve(oidc::testing::jwks_document({&key_}));
    } else {
      endpoint_.serve("{}", "", 500);
    }
  }

  [[nodiscard]] oidc::JwksCache& keys() { return keys_; }

  /// `Bearer <token>` over the claims of a push token for `audience`.
  [[nodiscard]] std::string bearer(std::string_view audience = kGmailAudience) const {
    return "Bearer " + key_.sign(oidc::testing::push_claims(std::string(audience), std::string(kGmailServiceAccount),
                                                            std::chrono::system_clock::now()));
  }

private:
  static oidc::JwksCacheOptions cache_options(std::string url) {
    oidc::JwksCacheOptions options;
    options.url = std::move(url);
    return options;
  }

  oidc::testing::SigningKey key_{"answers-test-kid"};
  oidc::testing::FakeJwksEndpoint endpoint_;
  oidc::JwksCache keys_{cache_options(endpoint_.url()), Logger::to_stderr("gateway-answers-test", spdlog::level::off)};
};

// The public listener as main.cpp wires it, around one producer. Gmail is
// configured with `gmail_keys`, and not configured without them.
class Gateway : public test_support::TestGateway {
public:
  Gateway(kafka::ProducerOptions producer_options, oidc::JwksCache* gmail_keys, bool twilio_configured = true)
      : TestGateway(std::move(producer_options), twilio_options(twilio_configured), gmail_options(gmail_keys),
                    gmail_keys) {}

  static http::ServerOptions options() { return server_options(); }
};

kafka::ProducerOptions mock_cluster(std::map<std::string, std::string> extra = {}) {
  kafka::ProducerOptions options;
  options.client.properties = {{"test.mock.num.brokers", "1"}};
  options.client.properties.merge(extra);
  options.delivery_timeout = 5s;
  return options;
}

kafka::ProducerOptions nothing_listening() {
  kafka::ProducerOptions options;
  options.client.bootstrap = "127.0.0.1:1";
  options.delivery_timeout = 300ms;
  return options;
}

// Sends `raw` bytes on a new connection and reads one response.
http::Response round_trip(std::uint16_t port, const std::string& raw) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(raw));
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  boost::system::error_code ec;
  bhttp::read(socket, buffer, parser, ec);
  if (ec) throw std::runtime_error("reading the answer failed: " + ec.message());
  return parser.release();
}

http::Response send(std::uint16_t port, std::string_view method, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    const std::string& body = {}) {
  std::string raw = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers)
    raw += name + ": " + value + "\r\n";
  raw += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  return round_trip(port, raw);
}

// Announces a body over the limit and sends none of it: the server answers
// from the headers, so no unread bytes turn its close into a reset.
http::Response send_oversized(std::uint16_t port, std::string_view method, std::string_view target) {
  return round_trip(port, std::string(method) + " " + std::string(target) +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(kBodyLimit + 1) + "\r\n\r\n");
}

std::string json_form(const std::map<std::string, std::string>& overrides = {}, bool drop_subject = false) {
  nlohmann::json form = {
      {"name", "Ada Lovelace"}, {"email", "Ada@Example.com"}, {"subject", "Login"}, {"message", "It fails."}};
  if (drop_subject) form.erase("subject");
  for (const auto& [k, v] : overrides)
    form[k] = v;
  return form.dump();
}

constexpr const char* kForm = "name=Ada&email=ada%40example.com&subject=Login&message=It+fails.";

class GatewayAnswers : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    document = new nlohmann::json(http::testing::load_openapi());
    google = new Google(true);
    google_down = new Google(false);
    ok = new Gateway(mock_cluster(), &google->keys());
    // A record over the broker's limit can never be produced: publish_failed.
    too_small = new Gateway(mock_cluster({{"message.max.bytes", "1000"}}), &google->keys());
    // No broker at all: every delivery times out, kafka_unavailable.
    down = new Gateway(nothing_listening(), &google->keys());
    // Google's keys cannot be fetched: jwks_unavailable.
    no_keys = new Gateway(mock_cluster(), &google_down->keys());
    // Neither Twilio nor Gmail configured: channel_not_configured.
    unconfigured = new Gateway(mock_cluster(), nullptr, false);
  }
  static void TearDownTestSuite() {
    delete unconfigured;
    delete no_keys;
    delete down;
    delete too_small;
    delete ok;
    delete google_down;
    delete google;
    delete document;
  }

  // Records the answer under `key` after checking its status matches.
  static void provoke(Answers& observed, const AnswerKey& key, const http::Response& response,
                      std::string_view expected_code = {}) {
    EXPECT_EQ(response.result_int(), static_cast<unsigned>(key.status))
        << key.method << " " << key.path << ": " << response.body();
    if (!expected_code.empty()) {
      EXPECT_NE(response.body().find("\"" + std::string(expected_code) + "\""), std::string::npos) << response.body();
    }
    http::testing::record(observed, key, response);
  }

  static Answers provoke_all() {
    Answers observed;
    const auto port = ok->port();
    const std::string webform = "/webhooks/webform";
    const AnswerKey accepted{webform, "POST", 202};
    const AnswerKey bad{webform, "POST", 400};
    const std::pair<std::string, std::string> json = {"Content-Type", "application/json"};
    const std::pair<std::string, std::string> form = {"Content-Type", "application/x-www-form-urlencoded"};
    const std::pair<std::string, std::string> browser = {"Accept", std::string(kBrowserAccept)};

    provoke(observed, accepted, send(port, "POST", webform, {json}, json_form()));
    provoke(observed, accepted, send(port, "POST", webform, {form, browser}, kForm));
    provoke(observed, bad, send(port, "POST", webform, {json}, "{"), "invalid_json");
    provoke(observed, bad, send(port, "POST", webform, {json}, R"({"name":1})"), "invalid_field");
    provoke(observed, bad, send(port, "POST", webform, {form}, "name=%zz"), "invalid_form");
    provoke(observed, bad, send(port, "POST", webform, {form}, std::string(kForm) + "&name=Bob"), "duplicate_field");
    provoke(observed, bad, send(port, "POST", webform, {json}, json_form({}, true)), "missing_field");
    provoke(observed, bad, send(port, "POST", webform, {form}, "name=%FF&email=a%40b.co&subject=s&message=m"),
            "invalid_encoding");
    provoke(observed, bad, send(port, "POST", webform, {json}, json_form({{"subject", std::string(301, 's')}})),
            "field_too_long");
    provoke(observed, bad, send(port, "POST", webform, {json}, json_form({{"email", "nope"}})), "invalid_email");
    provoke(observed, bad, send(port, "POST", webform, {json}, json_form({{"priority", "asap"}})), "invalid_priority");
    provoke(observed, bad, send(port, "POST", webform, {json}, json_form({{"phone", "not a number"}})),
            "invalid_phone_number");
    provoke(observed, bad, send(port, "POST", webform, {json, {"Idempotency-Key", std::string(256, 'k')}}, json_form()),
            "invalid_idempotency_key");
    provoke(observed, bad, send(port, "POST", webform, {form, browser}, "name=Ada"));
    provoke(observed, {webform, "POST", 413}, send_oversized(port, "POST", webform), "body_too_large");
    provoke(observed, {webform, "POST", 415}, send(port, "POST", webform, {{"Content-Type", "text/plain"}}, "hi"),
            "unsupported_media_type");
    const auto large = json_form({{"message", std::string(3000, 'm')}});
    provoke(observed, {webform, "POST", 500}, send(too_small->port(), "POST", webform, {json}, large),
            "publish_failed");
    provoke(observed, {webform, "POST", 500},
            send(too_small->port(), "POST", webform, {form, browser},
                 "name=A&email=a%40b.co&subject=s&message=" + std::string(3000, 'm')));
    provoke(observed, {webform, "POST", 503}, send(down->port(), "POST", webform, {json}, json_form()),
            "kafka_unavailable");
    provoke(observed, {webform, "POST", 503}, send(down->port(), "POST", webform, {form, browser}, kForm));

    provoke_twilio(observed);
    provoke_gmail(observed);

    const auto page = send(port, "GET", "/support");
    provoke(observed, {"/support", "GET", 200}, page);
    const auto head = send(port, "HEAD", "/support");
    EXPECT_EQ(head.result_int(), 200U);
    EXPECT_EQ(head[bhttp::field::content_type], page[bhttp::field::content_type]);

    const AnswerKey any{"*", "*", 0};
    const auto at = [&any](int status) { return AnswerKey{any.path, any.method, status}; };
    provoke(observed, at(404), send(port, "GET", "/no-such-path"), "not_found");
    provoke(observed, at(405), send(port, "GET", webform), "method_not_allowed");
    provoke(observed, at(405), send(port, "POST", "/support"), "method_not_allowed");
    provoke(observed, at(405), send(port, "GET", "/webhooks/gmail"), "method_not_allowed");
    provoke(observed, at(400), round_trip(port, "NOT HTTP AT ALL\r\n\r\n"), "malformed_http");
    provoke(observed, at(413), send_oversized(port, "POST", "/no-such-path"), "body_too_large");
    // internal_error is the HTTP server's answer to a handler that throws
    // (libs/http), whatever the listener; provoked with such a handler.
    {
      boost::asio::io_context io;
      http::Server failing(
          io.get_executor(), Gateway::options(),
          [](http::Request) -> boost::asio::awaitable<http::Response> { throw std::runtime_error("boom"); }, quiet());
      failing.start();
      std::thread runner([&io] { io.run(); });
      const auto answer = send(failing.port(), "GET", "/support");
      failing.stop();
      io.stop();
      runner.join();
      provoke(observed, at(500), answer, "internal_error");
    }
    return observed;
  }

  // Both Twilio routes: each answer from a request signed for the route's
  // public URL (or deliberately not).
  static void provoke_twilio(Answers& observed) {
    const std::pair<std::string, std::string> form = {"Content-Type", "application/x-www-form-urlencoded"};
    struct Route {
      std::string path;
      std::string body; ///< a valid request for the route
      int ok;
    };
    const Route routes[] = {
        {"/webhooks/twilio/whatsapp",
         "MessageSid=SManswers1&AccountSid=AC1&From=whatsapp%3A%2B15551234567&To=whatsapp%3A%2B14155238886&Body=Hi",
         200},
        {"/webhooks/twilio/status",
         "MessageSid=SManswers1&MessageStatus=delivered&AccountSid=AC1&From=whatsapp%3A%2B14155238886&"
         "To=whatsapp%3A%2B15551234567",
         204},
    };
    for (const auto& route : routes) {
      const auto signed_post = [&](Gateway& gateway, const std::string& body) {
        const auto fields = parse_form_fields(body).value_or(FormFields{});
        const auto signature = twilio_signature(kTwilioToken, std::string(kPublicBase) + route.path, fields);
        return send(gateway.port(), "POST", route.path, {form, {"X-Twilio-Signature", signature}}, body);
      };
      // The valid body with one field's encoded value replaced (dropped, for "").
      const auto with = [&](std::string_view name, std::string_view encoded) {
        std::string out;
        std::string_view rest(route.body);
        while (!rest.empty()) {
          const auto amp = rest.find('&');
          const auto pair = rest.substr(0, amp);
          rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
          const bool named = pair.substr(0, pair.find('=')) == name;
          if (named && encoded.empty()) continue;
          out += std::string(out.empty() ? "" : "&") +
                 (named ? std::string(name) + "=" + std::string(encoded) : std::string(pair));
        }
        return out;
      };
      const AnswerKey bad{route.path, "POST", 400};
      provoke(observed, {route.path, "POST", route.ok}, signed_post(*ok, route.body));
      provoke(observed, bad, signed_post(*ok, "MessageSid=%zz"), "invalid_form");
      provoke(observed, bad, signed_post(*ok, with("MessageSid", "")), "missing_field");
      provoke(observed, bad, signed_post(*ok, with(route.ok == 200 ? "From" : "To", "whatsapp%3A%2B1")),
              "invalid_phone_number");
      provoke(observed, {route.path, "POST", 403}, send(ok->port(), "POST", route.path, {form}, route.body),
              "invalid_signature");
      provoke(observed, {route.path, "POST", 413}, send_oversized(ok->port(), "POST", route.path), "body_too_large");
      provoke(observed, {route.path, "POST", 415},
              send(ok->port(), "POST", route.path, {{"Content-Type", "text/plain"}, {"X-Twilio-Signature", "x"}}, "hi"),
              "unsupported_media_type");
      provoke(observed, {route.path, "POST", 500},
              signed_post(*too_small, route.body + "&Padding=" + std::string(3000, 'p')), "publish_failed");
      provoke(observed, {route.path, "POST", 503}, signed_post(*down, route.body), "kafka_unavailable");
      provoke(observed, {route.path, "POST", 503}, signed_post(*unconfigured, route.body), "channel_not_configured");
    }
  }

  // The Pub/Sub push route: each answer from a request with a token signed
  // by Google's key (or deliberately without one, or a bad one).
  static void provoke_gmail(Answers& observed) {
    const std::string path = "/webhooks/gmail";
    const std::pair<std::string, std::string> json = {"Content-Type", "application/json"};
    const auto push = [](const nlohmann::json& attributes = nlohmann::json::object()) {
      const nlohmann::json data = {{"emailAddress", "Support@Example.com"}, {"historyId", 9876543210ULL}};
      nlohmann::json message = {{"data", oidc::encode_base64(data.dump())},
                                {"messageId", "2070443601311540"},
                                {"publishTime", "2025-03-14T09:31:06.912Z"}};
      if (!attributes.empty()) message["attributes"] = attributes;
      return nlohmann::json{{"message", message}, {"subscription", "projects/example-project/subscriptions/gmail-push"}}
          .dump();
    };
    const auto post = [&](Gateway& gateway, const std::string& body, std::optional<std::string> authorization) {
      std::vector<std::pair<std::string, std::string>> headers = {json};
      if (authorization) headers.emplace_back("Authorization", *authorization);
      return send(gateway.port(), "POST", path, headers, body);
    };
    const auto genuine = [&](Gateway& gateway, const std::string& body) {
      return post(gateway, body, google->bearer());
    };

    provoke(observed, {path, "POST", 204}, genuine(*ok, push()));
    // Authenticated but never processable: acknowledged, nothing published.
    provoke(observed, {path, "POST", 200}, genuine(*ok, "{"), "invalid_json");
    provoke(observed, {path, "POST", 200}, genuine(*ok, R"({"message":{}})"), "invalid_push");
    provoke(observed, {path, "POST", 401}, post(*ok, push(), std::nullopt), "missing_token");
    provoke(observed, {path, "POST", 401}, post(*ok, push(), "Bearer not.a.token"), "invalid_token");
    provoke(observed, {path, "POST", 403}, post(*ok, push(), google->bearer("https://elsewhere.example.com/push")),
            "forbidden_token");
    provoke(observed, {path, "POST", 413}, send_oversized(ok->port(), "POST", path), "body_too_large");
    provoke(observed, {path, "POST", 503}, genuine(*down, push()), "kafka_unavailable");
    // A record the broker can never take is a fatal produce error; the
    // handler still answers 503 (never 500), so Pub/Sub keeps the message.
    provoke(observed, {path, "POST", 503},
            genuine(*too_small, push({{"padding", std::string(1000, 'p')}, {"more", std::string(1000, 'p')}})),
            "kafka_unavailable");
    provoke(observed, {path, "POST", 503}, genuine(*no_keys, push()), "jwks_unavailable");
    provoke(observed, {path, "POST", 503}, genuine(*unconfigured, push()), "channel_not_configured");
  }

  static nlohmann::json* document;
  static Google* google;
  static Google* google_down;
  static Gateway* ok;
  static Gateway* too_small;
  static Gateway* down;
  static Gateway* no_keys;
  static Gateway* unconfigured;
};

nlohmann::json* GatewayAnswers::document = nullptr;
Google* GatewayAnswers::google = nullptr;
Google* GatewayAnswers::google_down = nullptr;
Gateway* GatewayAnswers::ok = nullptr;
Gateway* GatewayAnswers::too_small = nullptr;
Gateway* GatewayAnswers::down = nullptr;
Gateway* GatewayAnswers::no_keys = nullptr;
Gateway* GatewayAnswers::unconfigured = nullptr;

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += "  " + item + "\n";
  return out;
}

TEST_F(GatewayAnswers, TheTableIsWhatTheOpenApiDocumentSays) {
  const auto documented = http::testing::documented_answers(*document, "webhooks");
  const auto table = http::testing::table_answers(gateway_answers());
  const auto diff = http::testing::differences(documented, "proto/openapi.yaml", table, "gateway_answers.hpp");
  EXPECT_TRUE(diff.empty()) << lines(diff);
}

TEST_F(GatewayAnswers, TheHandlersGiveExactlyTheAnswersInTheTable) {
  const auto table = http::testing::table_answers(gateway_answers());
  const auto diff = http::testing::differences(table, "gateway_answers.hpp", provoke_all(), "the running handlers");
  EXPECT_TRUE(diff.empty()) << lines(diff);
}

TEST_F(GatewayAnswers, AnAcceptedBrowserPostShowsTheReference) {
  const auto page =
      send(ok->port(), "POST", "/webhooks/webform",
           {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", std::string(kBrowserAccept)}}, kForm);
  ASSERT_EQ(page.result_int(), 202U);
  EXPECT_EQ(page[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_NE(page.body().find("<strong id=\"reference\">"), std::string::npos) << page.body();
}

} // namespace
} // namespace fte::gateway
