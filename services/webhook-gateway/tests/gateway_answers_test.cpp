// Every answer the gateway's public listener can give, three ways: provoked
// from the real HTTP server, router and handlers (Kafka is librdkafka's
// in-process mock cluster, or an address nothing listens on), listed in
// gateway_answers.hpp, and documented in proto/openapi.yaml. Any difference
// in any direction fails, so code and document cannot drift apart.
#include "gateway_answers.hpp"

#include <set>
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
#include "gmail_push_handler.hpp"
#include "router.hpp"
#include "webform_handler.hpp"

namespace fte::gateway {
namespace {

namespace bhttp = boost::beast::http;
using http::testing::AnswerKey;
using http::testing::Answers;
using namespace std::chrono_literals;

constexpr std::string_view kBrowserAccept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
constexpr std::size_t kBodyLimit = 64 * 1024;

// Routes whose handlers come from other branches of issue 8 (twilio,
// gmailpush). While the router does not serve one, its rows are checked
// against the document only; once it is served, every row must be provoked
// here like the others (add its cases below), or this test fails.
const std::set<std::string> kRoutesAwaitingHandlers = {"/webhooks/twilio/whatsapp", "/webhooks/twilio/status",
                                                       "/webhooks/gmail"};

Logger quiet() { return Logger::to_stderr("gateway-answers-test", spdlog::level::off); }

GmailPushHandler::Options unconfigured_gmail() {
  GmailPushHandler::Options options;
  options.topic = "fte.channels.email.inbound";
  return options;
}

// The public listener as main.cpp wires it, around one producer.
class Gateway {
public:
  explicit Gateway(kafka::ProducerOptions producer_options)
      : producer_(std::move(producer_options), quiet()), metrics_(registry_),
        webform_({"fte.channels.webform.inbound", 1}, producer_, metrics_, quiet()),
        gmail_(unconfigured_gmail(), nullptr, producer_, metrics_, registry_, quiet()),
        router_(webform_, gmail_, metrics_),
        server_(
            io_.get_executor(), options(), [this](http::Request request) { return router_.route(std::move(request)); },
            quiet()),
        work_(boost::asio::make_work_guard(io_)) {
    server_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Gateway() {
    server_.stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }

  static http::ServerOptions options() {
    http::ServerOptions options;
    options.address = "127.0.0.1";
    options.port = 0;
    options.body_limit = kBodyLimit;
    return options;
  }

private:
  kafka::Producer producer_;
  prometheus::Registry registry_;
  GatewayMetrics metrics_;
  WebformHandler webform_;
  GmailPushHandler gmail_;
  Router router_;
  boost::asio::io_context io_;
  http::Server server_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
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
    ok = new Gateway(mock_cluster());
    // A record over the broker's limit can never be produced: publish_failed.
    too_small = new Gateway(mock_cluster({{"message.max.bytes", "1000"}}));
    // No broker at all: every delivery times out, kafka_unavailable.
    down = new Gateway(nothing_listening());
  }
  static void TearDownTestSuite() {
    delete down;
    delete too_small;
    delete ok;
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

  static nlohmann::json* document;
  static Gateway* ok;
  static Gateway* too_small;
  static Gateway* down;
};

nlohmann::json* GatewayAnswers::document = nullptr;
Gateway* GatewayAnswers::ok = nullptr;
Gateway* GatewayAnswers::too_small = nullptr;
Gateway* GatewayAnswers::down = nullptr;

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
  auto table = http::testing::table_answers(gateway_answers());
  // A route the router does not serve answers 404 not_found to everything.
  for (auto it = table.begin(); it != table.end();) {
    const auto& path = it->first.path;
    if (path == "*") {
      ++it;
      continue;
    }
    const auto probe = send(ok->port(), it->first.method, path, {{"Content-Type", "application/json"}}, "{}");
    const bool served = !(probe.result_int() == 404 && probe.body().find("\"not_found\"") != std::string::npos);
    if (!served && kRoutesAwaitingHandlers.contains(path)) {
      it = table.erase(it);
    } else {
      ++it;
    }
  }
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
