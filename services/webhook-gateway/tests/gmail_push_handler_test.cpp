// The Gmail push route end to end inside the process: real tokens signed by
// a key the test holds, Google's JWKS served from a loopback port, and the
// real producer against librdkafka's mock cluster, read back to prove what
// was (and was not) published.
#include "gmail_push_handler.hpp"

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

#include <array>
#include <future>
#include <map>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "fte/common/ids.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/oidc/base64.hpp"
#include "fte/oidc/testing/fake_jwks_endpoint.hpp"
#include "fte/oidc/testing/signing_key.hpp"

namespace fte::gateway {
namespace {

using namespace std::chrono_literals;
namespace bhttp = boost::beast::http;

constexpr const char* kAudience = "https://support.example.com/webhooks/gmail";
constexpr const char* kServiceAccount = "gmail-push@example-project.iam.gserviceaccount.com";
constexpr const char* kTopic = "fte.channels.email.inbound";
constexpr std::int32_t kPartitions = 3;

struct Published {
  std::string key;
  std::string value;
};

Logger quiet() { return Logger::to_stderr("gmail-push-test", spdlog::level::off); }

kafka::ProducerOptions mock_producer_options() {
  kafka::ProducerOptions options;
  options.client.bootstrap = "";
  options.client.client_id = "gmail-push-test";
  options.client.properties = {{"test.mock.num.brokers", "1"}};
  options.delivery_timeout = 1500ms;
  return options;
}

std::string push_body(const std::string& mailbox, const nlohmann::json& history_id, const std::string& message_id) {
  const nlohmann::json data = {{"emailAddress", mailbox}, {"historyId", history_id}};
  return nlohmann::json{{"message",
                         {{"data", oidc::encode_base64(data.dump())},
                          {"messageId", message_id},
                          {"message_id", message_id},
                          {"publishTime", "2025-03-14T09:31:06.912Z"}}},
                        {"subscription", "projects/example-project/subscriptions/gmail-push"}}
      .dump();
}

class GmailPushHandlerTest : public ::testing::Test {
protected:
  GmailPushHandlerTest() {
    cluster_ = rd_kafka_handle_mock_cluster(producer_.native());
    EXPECT_NE(cluster_, nullptr);
    EXPECT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, kPartitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    jwks_.serve(oidc::testing::jwks_document({&google_}));
    io_thread_ = std::thread([this] { io_.run(); });
  }
  ~GmailPushHandlerTest() override {
    work_.reset();
    io_.stop();
    io_thread_.join();
  }

  GmailPushHandler::Options options() const {
    GmailPushHandler::Options o;
    o.topic = kTopic;
    o.policy.audience = kAudience;
    o.policy.email = kServiceAccount;
    return o;
  }

  std::unique_ptr<GmailPushHandler> make_handler(GmailPushHandler::Options o) {
    return std::make_unique<GmailPushHandler>(std::move(o), &keys_, producer_, metrics_, registry_, quiet());
  }

  http::Response call(const GmailPushHandler& handler, const std::string& body,
                      std::optional<std::string> authorization) {
    http::Request request{bhttp::verb::post, "/webhooks/gmail", 11};
    request.set(bhttp::field::content_type, "application/json");
    if (authorization) request.set(bhttp::field::authorization, *authorization);
    request.body() = body;
    request.prepare_payload();
    auto answer = boost::asio::co_spawn(io_, handler.handle(std::move(request)), boost::asio::use_future);
    EXPECT_EQ(answer.wait_for(20s), std::future_status::ready);
    return answer.get();
  }

  [[nodiscard]] std::string token(const nlohmann::json& claims) const { return "Bearer " + google_.sign(claims); }
  [[nodiscard]] nlohmann::json claims() const {
    return oidc::testing::push_claims(kAudience, kServiceAccount, std::chrono::system_clock::now());
  }

  /// Everything in the topic, read with a plain consumer (the mock cluster
  /// answers no DescribeConfigs, which kafka::TopicReader needs).
  std::vector<Published> published() {
    std::vector<Published> records;
    kafka::ConfHandle conf(rd_kafka_conf_new());
    std::array<char, 512> error{};
    for (const auto& [name, value] :
         std::map<std::string, std::string>{{"bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster_)},
                                            {"group.id", "gmail-push-test-" + random_uuid()},
                                            {"enable.auto.commit", "false"}}) {
      EXPECT_EQ(rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error.data(), error.size()),
                RD_KAFKA_CONF_OK)
          << error.data();
    }
    kafka::KafkaHandle consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf.release(), error.data(), error.size()));
    EXPECT_TRUE(consumer) << error.data();
    if (!consumer) return records;
    kafka::PartitionListHandle partitions(rd_kafka_topic_partition_list_new(kPartitions));
    std::map<std::int32_t, std::int64_t> remaining;
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      EXPECT_EQ(rd_kafka_query_watermark_offsets(consumer.get(), kTopic, p, &low, &high, 10'000),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      rd_kafka_topic_partition_list_add(partitions.get(), kTopic, p)->offset = low;
      if (high > low) remaining[p] = high;
    }
    rd_kafka_assign(consumer.get(), partitions.get());
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!remaining.empty() && std::chrono::steady_clock::now() < deadline) {
      kafka::MessageHandle message(rd_kafka_consumer_poll(consumer.get(), 100));
      if (!message || message->err) continue;
      const auto it = remaining.find(message->partition);
      if (it == remaining.end()) continue;
      records.push_back({message->key == nullptr
                             ? std::string()
                             : std::string(static_cast<const char*>(message->key), message->key_len),
                         std::string(static_cast<const char*>(message->payload), message->len)});
      if (message->offset + 1 >= it->second) remaining.erase(it);
    }
    EXPECT_TRUE(remaining.empty()) << "the topic was not read to its end";
    rd_kafka_consumer_close(consumer.get());
    return records;
  }

  double dropped(const std::string& reason) {
    for (const auto& family : registry_.Collect()) {
      if (family.name != "fte_gateway_push_dropped_total") continue;
      for (const auto& metric : family.metric) {
        for (const auto& label : metric.label) {
          if (label.name == "reason" && label.value == reason) return metric.counter.value;
        }
      }
    }
    return -1;
  }

  static std::string error_code(const http::Response& response) {
    const auto body = nlohmann::json::parse(response.body(), nullptr, false);
    return body.is_object() && body.contains("error") ? body["error"].value("code", "") : "";
  }

  oidc::testing::SigningKey google_{"google-kid-1"};
  oidc::testing::FakeJwksEndpoint jwks_;
  kafka::Producer producer_{mock_producer_options(), quiet()};
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  prometheus::Registry registry_;
  GatewayMetrics metrics_{registry_};
  oidc::JwksCache keys_{[this] {
                          oidc::JwksCacheOptions o;
                          o.url = jwks_.url();
                          return o;
                        }(),
                        quiet()};
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ = boost::asio::make_work_guard(io_);
  std::thread io_thread_;
};

TEST_F(GmailPushHandlerTest, PublishesOneEventPerPushAndAnswers204AfterTheAck) {
  const auto handler = make_handler(options());
  const auto body = push_body("Support@Example.com", 9876543210ULL, "2070443601311540");
  const auto response = call(*handler, body, token(claims()));
  ASSERT_EQ(response.result(), http::Status::no_content) << response.body();
  EXPECT_TRUE(response.body().empty());

  // Pub/Sub redelivers: the same event id, which consumers deduplicate.
  EXPECT_EQ(call(*handler, body, token(claims())).result(), http::Status::no_content);

  const auto records = published();
  ASSERT_EQ(records.size(), 2U);
  const contracts::Validator validator;
  for (const auto& record : records) {
    EXPECT_EQ(record.key, "support@example.com");
    const auto envelope = nlohmann::json::parse(record.value);
    const auto violation = validator.validate_received(envelope);
    EXPECT_FALSE(violation) << *violation;
    EXPECT_EQ(envelope["id"], event_id_from_provider("pubsub", "2070443601311540").str());
    EXPECT_EQ(envelope["type"], "fte.email.notification.received.v1");
    EXPECT_EQ(envelope["subject"], "support@example.com");
    EXPECT_EQ(envelope["data"]["email_address"], "support@example.com");
    EXPECT_EQ(envelope["data"]["history_id"], "9876543210");
    EXPECT_EQ(envelope["data"]["pubsub_message_id"], "2070443601311540");
    EXPECT_EQ(envelope["data"]["subscription"], "projects/example-project/subscriptions/gmail-push");
  }
  EXPECT_EQ(jwks_.hits(), 1) << "the keys were fetched once and then held";
}

TEST_F(GmailPushHandlerTest, BadTokensAre401Or403AndPublishNothing) {
  const auto handler = make_handler(options());
  const auto body = push_body("support@example.com", "1", "m-1");

  auto response = call(*handler, body, std::nullopt);
  EXPECT_EQ(response.result(), http::Status::unauthorized);
  EXPECT_EQ(error_code(response), "missing_token");
  EXPECT_EQ(response[bhttp::field::www_authenticate], "Bearer");
  EXPECT_EQ(error_code(call(*handler, body, "Basic Zm9vOmJhcg==")), "missing_token");
  EXPECT_EQ(error_code(call(*handler, body, "Bearer ")), "missing_token");

  auto expired = claims();
  expired["exp"] = expired["iat"].get<std::int64_t>() - 7200;
  expired["iat"] = expired["iat"].get<std::int64_t>() - 10800;
  auto wrong_audience = claims();
  wrong_audience["aud"] = "https://elsewhere.example.com/push";
  auto wrong_issuer = claims();
  wrong_issuer["iss"] = "https://evil.example.com";
  auto wrong_account = claims();
  wrong_account["email"] = "someone@example-project.iam.gserviceaccount.com";
  auto unverified = claims();
  unverified["email_verified"] = false;
  const oidc::testing::SigningKey stranger("google-kid-1");
  const oidc::testing::SigningKey unknown("no-such-kid");

  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"expired", token(expired)},
      {"alg none", "Bearer " + oidc::testing::unsigned_token({{"alg", "none"}, {"kid", "google-kid-1"}}, claims())},
      {"HS256 with the public key", "Bearer " + oidc::testing::sign_hs256({{"alg", "HS256"}, {"kid", "google-kid-1"}},
                                                                          claims(), google_.public_key_pem())},
      {"another key pair", "Bearer " + stranger.sign(claims())},
      {"unknown kid", "Bearer " + unknown.sign(claims())},
      {"garbage", "Bearer not.a.token"},
  };
  for (const auto& [what, authorization] : invalid) {
    response = call(*handler, body, authorization);
    EXPECT_EQ(response.result(), http::Status::unauthorized) << what;
    EXPECT_EQ(error_code(response), "invalid_token") << what;
    EXPECT_EQ(response[bhttp::field::www_authenticate], R"(Bearer error="invalid_token")") << what;
  }
  for (const auto& [what, c] : std::vector<std::pair<std::string, nlohmann::json>>{{"audience", wrong_audience},
                                                                                   {"issuer", wrong_issuer},
                                                                                   {"account", wrong_account},
                                                                                   {"unverified", unverified}}) {
    response = call(*handler, body, token(c));
    EXPECT_EQ(response.result(), http::Status::forbidden) << what;
    EXPECT_EQ(error_code(response), "forbidden_token") << what;
  }
  EXPECT_TRUE(published().empty());
  EXPECT_EQ(jwks_.hits(), 1) << "the unknown kid came within a minute of the first fetch";
}

TEST_F(GmailPushHandlerTest, PushesThatCanNeverSucceedAreAcknowledgedAndCounted) {
  auto o = options();
  o.mailboxes = {"support@example.com"};
  const auto handler = make_handler(o);
  const auto check = [&](const std::string& body, const std::string& code) {
    const auto response = call(*handler, body, token(claims()));
    EXPECT_EQ(response.result(), http::Status::ok) << body;
    EXPECT_EQ(nlohmann::json::parse(response.body()), (nlohmann::json{{"acknowledged", true}, {"dropped", code}}));
  };
  check("{not json", "invalid_json");
  check(R"({"message":{"messageId":"1"},"subscription":"s"})", "invalid_push");
  check(R"({"message":{"messageId":"1","data":"%%%"},"subscription":"s"})", "invalid_push");
  check(push_body("someone-else@example.com", "5", "m-2"), "invalid_push");
  EXPECT_EQ(dropped("invalid_json"), 1);
  EXPECT_EQ(dropped("invalid_push"), 2);
  EXPECT_EQ(dropped("unknown_mailbox"), 1);
  EXPECT_TRUE(published().empty());

  // The served mailbox, in any case, goes through.
  EXPECT_EQ(call(*handler, push_body("SUPPORT@example.com", "5", "m-3"), token(claims())).result(),
            http::Status::no_content);
  EXPECT_EQ(published().size(), 1U);
}

TEST_F(GmailPushHandlerTest, UnreachableKeysAnswer503SoPubsubRetries) {
  jwks_.serve("{}", "", 500);
  const auto handler = make_handler(options());
  const auto response = call(*handler, push_body("support@example.com", "1", "m-1"), token(claims()));
  EXPECT_EQ(response.result(), http::Status::service_unavailable);
  EXPECT_EQ(error_code(response), "jwks_unavailable");
  EXPECT_EQ(response[bhttp::field::retry_after], "1");
  EXPECT_TRUE(published().empty());
}

TEST_F(GmailPushHandlerTest, KafkaDownAnswers503WithRetryAfter) {
  auto o = options();
  o.retry_after_seconds = 7;
  const auto handler = make_handler(o);
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto response = call(*handler, push_body("support@example.com", "1", "m-1"), token(claims()));
  EXPECT_EQ(response.result(), http::Status::service_unavailable) << response.body();
  EXPECT_EQ(error_code(response), "kafka_unavailable");
  EXPECT_EQ(response[bhttp::field::retry_after], "7");
}

TEST_F(GmailPushHandlerTest, UnconfiguredChannelAnswers503) {
  GmailPushHandler::Options o;
  o.topic = kTopic;
  const GmailPushHandler handler(o, nullptr, producer_, metrics_, registry_, quiet());
  const auto response = call(handler, push_body("support@example.com", "1", "m-1"), token(claims()));
  EXPECT_EQ(response.result(), http::Status::service_unavailable);
  EXPECT_EQ(error_code(response), "channel_not_configured");
  EXPECT_EQ(jwks_.hits(), 0);
}

Environment env(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

TEST(GmailPushOptions, FromEnvironment) {
  const auto none = GmailPushHandler::Options::from_env(env({}), "t", 1);
  EXPECT_FALSE(none.configured());
  EXPECT_EQ(none.policy.clock_skew, 60s);
  const auto o =
      GmailPushHandler::Options::from_env(env({{"FTE_GMAIL_PUSH_AUDIENCE", kAudience},
                                               {"FTE_GMAIL_PUSH_SERVICE_ACCOUNT", kServiceAccount},
                                               {"FTE_OIDC_CLOCK_SKEW_SECONDS", "30"},
                                               {"FTE_GMAIL_MAILBOXES", " Support@Example.com, sales@example.com ,,"}}),
                                          "t", 1);
  EXPECT_TRUE(o.configured());
  EXPECT_EQ(o.policy.clock_skew, 30s);
  EXPECT_EQ(o.mailboxes, (std::set<std::string, std::less<>>{"support@example.com", "sales@example.com"}));
  EXPECT_THROW((void)GmailPushHandler::Options::from_env(env({{"FTE_GMAIL_MAILBOXES", "nobody"}}), "t", 1),
               ConfigError);
  EXPECT_THROW((void)GmailPushHandler::Options::from_env(env({{"FTE_OIDC_CLOCK_SKEW_SECONDS", "-1"}}), "t", 1),
               ConfigError);
  EXPECT_EQ(jwks_cache_options_from_env(env({})).url, "https://www.googleapis.com/oauth2/v3/certs");
  EXPECT_EQ(jwks_cache_options_from_env(env({{"FTE_GOOGLE_JWKS_URL", "http://127.0.0.1:1/certs"}})).url,
            "http://127.0.0.1:1/certs");
}

} // namespace
} // namespace fte::gateway
