// The WhatsApp sender against a local fake of Twilio's Messages API: what it
// sends, and how each answer is sorted (sent, not_sent, rejected, ambiguous).
#include "fte/twilio/whatsapp_reply_sender.hpp"

#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "fte/http/server.hpp"

namespace fte::twilio {
namespace {

namespace bhttp = boost::beast::http;
using replies::SendOutcome;

// What the fake saw of the last request.
struct Seen {
  std::string method, target, authorization, content_type, body;
  int requests = 0;
};

// A loopback HTTP server that answers every request with one canned
// response (after an optional delay) and records what it got.
class FakeTwilio {
public:
  FakeTwilio(unsigned status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {},
             std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    http::ServerOptions options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<http::Server>(
        io_.get_executor(), options,
        [this, status, body, headers, delay](http::Request request) -> boost::asio::awaitable<http::Response> {
          {
            std::lock_guard lock(mutex_);
            seen_.method = std::string(request.method_string());
            seen_.target = std::string(request.target());
            seen_.authorization = std::string(request[bhttp::field::authorization]);
            seen_.content_type = std::string(request[bhttp::field::content_type]);
            seen_.body = request.body();
            ++seen_.requests;
          }
          if (delay.count() > 0) {
            boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
            co_await timer.async_wait(boost::asio::use_awaitable);
          }
          http::Response response{static_cast<http::Status>(status), request.version()};
          response.set(bhttp::field::content_type, "application/json");
          for (const auto& [name, value] : headers)
            response.set(name, value);
          response.body() = body;
          response.prepare_payload();
          co_return response;
        },
        Logger::to_stderr("fake-twilio", spdlog::level::warn));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeTwilio() {
    server_->stop();
    io_.stop();
    thread_.join();
  }
  FakeTwilio(const FakeTwilio&) = delete;
  FakeTwilio& operator=(const FakeTwilio&) = delete;

  [[nodiscard]] std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  [[nodiscard]] Seen seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }

private:
  boost::asio::io_context io_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  mutable std::mutex mutex_;
  Seen seen_;
};

MessagesApiOptions options_for(const std::string& base_url) {
  MessagesApiOptions options;
  options.api_base_url = base_url;
  options.account_sid = "AC0123456789abcdef0123456789abcdef";
  options.auth_token = "secret-token";
  options.status_callback_url = "https://support.example.com/webhooks/twilio/status";
  options.timeout = std::chrono::milliseconds(2'000);
  return options;
}

replies::OutgoingReply reply() {
  replies::OutgoingReply r;
  r.reply_id = "0b5d2f7e-3c1a-5e9b-8f2d-4a6c9e1b3d57";
  r.channel = "whatsapp";
  r.to = "+15551234567";
  r.body = "Reset it from Settings > Security. Ça marche & voilà.";
  r.inbound_metadata = {{"provider", "twilio"}, {"message_sid", "SMin"}, {"to", "whatsapp:+14155238886"}};
  return r;
}

std::string decoded_form(const std::vector<std::pair<std::string, std::string>>& fields) {
  return outbound_http::form_encode(fields);
}

TEST(WhatsAppReplySender, CreatedIsSentWithTheSidAndTwilioStatus) {
  FakeTwilio fake(201,
                  R"({"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","to":"whatsapp:+15551234567"})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::sent) << result.detail;
  EXPECT_EQ(result.provider_message_id, "SM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(result.provider_status, "queued");

  const auto seen = fake.seen();
  EXPECT_EQ(seen.requests, 1);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json");
  EXPECT_EQ(seen.authorization, outbound_http::basic_auth("AC0123456789abcdef0123456789abcdef", "secret-token"));
  EXPECT_EQ(seen.content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(seen.body, decoded_form({{"To", "whatsapp:+15551234567"},
                                     {"From", "whatsapp:+14155238886"},
                                     {"Body", reply().body},
                                     {"StatusCallback", "https://support.example.com/webhooks/twilio/status"}}));
}

TEST(WhatsAppReplySender, AnswersThroughTheMessagingServiceTheMessageCameThrough) {
  auto r = reply();
  r.inbound_metadata["messaging_service_sid"] = "MG0123456789abcdef0123456789abcdef";
  auto options = options_for("http://unused");
  options.status_callback_url.clear();
  using Fields = std::vector<std::pair<std::string, std::string>>;
  const auto fields = WhatsAppReplySender::form_fields(options, r);
  ASSERT_TRUE(std::holds_alternative<Fields>(fields));
  EXPECT_EQ(decoded_form(std::get<0>(fields)),
            decoded_form({{"To", "whatsapp:+15551234567"},
                          {"MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"},
                          {"Body", r.body}}))
      << "no From beside the service, and no StatusCallback when none is configured";
}

TEST(WhatsAppReplySender, AReplyWithoutOurNumberIsRejectedWithoutARequest) {
  FakeTwilio fake(201, R"({"sid":"SMx","status":"queued"})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  auto r = reply();
  r.inbound_metadata = nlohmann::json::object();
  const auto result = sender.send(r);
  EXPECT_EQ(result.outcome, SendOutcome::rejected);
  EXPECT_NE(result.detail.find("messaging_service_sid"), std::string::npos) << result.detail;
  EXPECT_EQ(fake.seen().requests, 0);
}

TEST(WhatsAppReplySender, TooManyRequestsIsNotSentWithItsRetryAfter) {
  FakeTwilio fake(
      429,
      R"({"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429})",
      {{"Retry-After", "7"}});
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent) << result.detail;
  EXPECT_EQ(result.retry_after, std::chrono::seconds(7));
}

TEST(WhatsAppReplySender, ErrorCode20429IsNotSentWhateverTheStatus) {
  FakeTwilio fake(400, R"({"code":20429,"message":"Too Many Requests","status":400})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent) << result.detail;
  EXPECT_EQ(result.retry_after, std::chrono::seconds(0)) << "no Retry-After: the dispatcher's backoff applies";
}

TEST(WhatsAppReplySender, ABadRequestIsRejectedWithTwiliosCodeAndMessage) {
  FakeTwilio fake(
      400,
      R"({"code":21211,"message":"The 'To' number whatsapp:+15551234567 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::rejected);
  EXPECT_NE(result.detail.find("21211"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("is not a valid phone number"), std::string::npos) << result.detail;
  EXPECT_NE(result.detail.find("HTTP 400"), std::string::npos) << result.detail;
}

TEST(WhatsAppReplySender, WrongCredentialsAreNotSentSoAFixedTokenStillSendsThem) {
  FakeTwilio fake(401, R"({"code":20003,"message":"Authenticate","status":401})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent) << result.detail;
  EXPECT_NE(result.detail.find("20003"), std::string::npos) << result.detail;
}

TEST(WhatsAppReplySender, AServerErrorIsAmbiguous) {
  FakeTwilio fake(500, R"({"code":20500,"message":"Internal Server Error","status":500})");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::ambiguous);
  EXPECT_NE(result.detail.find("HTTP 500"), std::string::npos) << result.detail;
  EXPECT_EQ(sender.reconcile(reply()), std::nullopt) << "Twilio cannot be asked by our id";
}

TEST(WhatsAppReplySender, CreatedWithoutASidIsAmbiguous) {
  FakeTwilio fake(201, "not json");
  WhatsAppReplySender sender(options_for(fake.base_url()));
  EXPECT_EQ(sender.send(reply()).outcome, SendOutcome::ambiguous);
}

TEST(WhatsAppReplySender, ATimeoutAfterSendingIsAmbiguous) {
  FakeTwilio fake(201, R"({"sid":"SMlate","status":"queued"})", {}, std::chrono::milliseconds(1'500));
  auto options = options_for(fake.base_url());
  options.timeout = std::chrono::milliseconds(300);
  WhatsAppReplySender sender(options);
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::ambiguous) << result.detail;
  EXPECT_EQ(fake.seen().requests, 1) << "the request reached Twilio, which may have queued it";
}

TEST(WhatsAppReplySender, ARefusedConnectionIsNotSent) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = acceptor.local_endpoint().port();
  acceptor.close();
  WhatsAppReplySender sender(options_for("http://127.0.0.1:" + std::to_string(port)));
  const auto result = sender.send(reply());
  EXPECT_EQ(result.outcome, SendOutcome::not_sent) << result.detail;
}

TEST(WhatsAppReplySender, ConfigurationFromTheEnvironment) {
  using Vars = std::map<std::string, std::string, std::less<>>;
  EXPECT_FALSE(MessagesApiOptions::from_env(Environment(Vars{{"FTE_TWILIO_ACCOUNT_SID", "AC1"}})))
      << "no token: WhatsApp replies are not configured";
  const auto options =
      MessagesApiOptions::from_env(Environment(Vars{{"FTE_TWILIO_ACCOUNT_SID", "AC1"},
                                                    {"FTE_TWILIO_AUTH_TOKEN", "t"},
                                                    {"FTE_PUBLIC_BASE_URL", "https://support.example.com/"},
                                                    {"FTE_REPLY_SEND_TIMEOUT_MS", "4000"}}));
  ASSERT_TRUE(options);
  EXPECT_EQ(options->api_base_url, "https://api.twilio.com");
  EXPECT_EQ(options->status_callback_url, "https://support.example.com/webhooks/twilio/status");
  EXPECT_EQ(options->timeout, std::chrono::milliseconds(4000));
  EXPECT_THROW((void)MessagesApiOptions::from_env(Environment(Vars{{"FTE_TWILIO_ACCOUNT_SID", "AC1"},
                                                                   {"FTE_TWILIO_AUTH_TOKEN", "t"},
                                                                   {"FTE_TWILIO_API_BASE_URL", "api.twilio.com"}})),
               ConfigError);
}

} // namespace
} // namespace fte::twilio
