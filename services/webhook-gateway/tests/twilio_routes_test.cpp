// The Twilio routes through the real HTTP server, router, handlers and
// producer, against librdkafka's built-in mock cluster: what is answered and
// what reaches the topic (nothing, for every refused request). No Kafka
// process; a unit test.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include "fte/events/cloud_event.hpp"
#include "mock_kafka.hpp"
#include "test_gateway.hpp"
#include "twilio_signature.hpp"
#include "twilio_vectors.hpp"

namespace fte::gateway {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using namespace test_vectors;

constexpr const char* kTopic = "fte.channels.whatsapp.inbound";
constexpr int kPartitions = 3;

struct Answer {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::string retry_after;
};

// The gateway's public listener with the given Twilio configuration, its
// producer on a mock cluster of its own.
class Gateway : public test_support::TestGateway {
public:
  explicit Gateway(std::vector<std::string> tokens, OriginPolicy origin = {})
      : TestGateway(test_support::mock_producer_options("twilio-routes-test"),
                    {kTopic, 1, std::move(tokens), std::move(origin)}),
        cluster_(rd_kafka_handle_mock_cluster(producer().native())) {
    EXPECT_EQ(rd_kafka_mock_topic_create(cluster_, kTopic, kPartitions, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  Answer post(std::string_view path, std::string_view body,
              std::initializer_list<std::pair<std::string, std::string>> headers,
              bhttp::verb method = bhttp::verb::post) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port()});
    bhttp::request<bhttp::string_body> request{method, std::string(path), 11};
    request.set(bhttp::field::host, "gateway.internal:8080");
    for (const auto& [name, value] : headers)
      request.set(name, value);
    request.body() = std::string(body);
    request.prepare_payload();
    bhttp::write(socket, request);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(socket, buffer, response);
    return {response.result_int(), std::string(response[bhttp::field::content_type]), response.body(),
            std::string(response[bhttp::field::retry_after])};
  }

  std::vector<test_support::Published> published() {
    return test_support::read_mock_topic(cluster_, kTopic, kPartitions);
  }

  void broker_down() { rd_kafka_mock_broker_set_down(cluster_, 1); }

private:
  rd_kafka_mock_cluster_t* cluster_;
};

OriginPolicy public_base(std::string_view proxies = "") {
  OriginPolicy p;
  p.public_base_url = "https://support.example.com";
  p.trusted_proxies = TrustedProxies::parse(proxies);
  return p;
}

const std::pair<std::string, std::string> kForm{"Content-Type", "application/x-www-form-urlencoded"};

events::CloudEvent event_of(const test_support::Published& record) {
  auto parsed = events::parse_event(record.value);
  EXPECT_TRUE(std::holds_alternative<events::CloudEvent>(parsed));
  return std::holds_alternative<events::CloudEvent>(parsed) ? std::get<events::CloudEvent>(parsed)
                                                            : events::CloudEvent{};
}

TEST(TwilioRoutes, SignedMessageIsPublishedThenAnsweredWithEmptyTwiml) {
  Gateway gateway({std::string(kToken)}, public_base());
  const std::pair<std::string, std::string> signature{"X-Twilio-Signature", std::string(kMessageSignature)};
  const auto answer = gateway.post("/webhooks/twilio/whatsapp", kMessageBody, {kForm, signature});
  EXPECT_EQ(answer.status, 200U) << answer.body;
  EXPECT_EQ(answer.content_type, "text/xml");
  EXPECT_EQ(answer.body, R"(<?xml version="1.0" encoding="UTF-8"?><Response/>)");
  // Twilio's retry of the same message: answered the same, and the same event.
  EXPECT_EQ(gateway.post("/webhooks/twilio/whatsapp", kMessageBody, {kForm, signature}).status, 200U);

  const auto records = gateway.published();
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].key, "+15551234567");
  const auto first = event_of(records[0]);
  EXPECT_EQ(first.type, "fte.whatsapp.message.received.v1");
  EXPECT_EQ(first.subject, "+15551234567");
  EXPECT_EQ(first.data["profile_name"], "Zoë Ångström");
  EXPECT_EQ(first.data["client"]["address"], "127.0.0.1");
  EXPECT_EQ(event_of(records[1]).id, first.id);
}

TEST(TwilioRoutes, StatusCallbackIsPublishedThenAnswered204) {
  Gateway gateway({std::string(kToken)}, public_base());
  const auto answer = gateway.post("/webhooks/twilio/status", kStatusBody,
                                   {kForm, {"X-Twilio-Signature", std::string(kStatusSignature)}});
  EXPECT_EQ(answer.status, 204U) << answer.body;
  EXPECT_EQ(answer.body, "");
  const auto records = gateway.published();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].key, "+15551234567");
  EXPECT_EQ(event_of(records[0]).data["message_status"], "delivered");
}

TEST(TwilioRoutes, RefusedRequestsPublishNothing) {
  Gateway gateway({std::string(kToken)}, public_base());
  const auto code = [](const Answer& a) { return nlohmann::json::parse(a.body)["error"]["code"]; };
  const std::pair<std::string, std::string> signature{"X-Twilio-Signature", std::string(kMessageSignature)};

  auto a = gateway.post("/webhooks/twilio/whatsapp", kMessageBody, {kForm});
  EXPECT_EQ(a.status, 403U);
  EXPECT_EQ(code(a), "invalid_signature");
  // Tampered parameter.
  std::string tampered(kMessageBody);
  tampered.replace(tampered.find("Hello"), 5, "HELLO");
  a = gateway.post("/webhooks/twilio/whatsapp", tampered, {kForm, signature});
  EXPECT_EQ(a.status, 403U);
  EXPECT_EQ(code(a), "invalid_signature");
  // The message's signature on the status route (a different URL).
  a = gateway.post("/webhooks/twilio/status", kMessageBody, {kForm, signature});
  EXPECT_EQ(a.status, 403U);
  // A query string Twilio did not call.
  a = gateway.post("/webhooks/twilio/whatsapp?x=1", kMessageBody, {kForm, signature});
  EXPECT_EQ(a.status, 403U);
  a = gateway.post("/webhooks/twilio/whatsapp", kMessageBody, {{"Content-Type", "text/plain"}, signature});
  EXPECT_EQ(a.status, 415U);
  EXPECT_EQ(code(a), "unsupported_media_type");
  a = gateway.post("/webhooks/twilio/whatsapp", "a=%zz", {kForm, signature});
  EXPECT_EQ(a.status, 400U);
  EXPECT_EQ(code(a), "invalid_form");
  a = gateway.post("/webhooks/twilio/whatsapp", "", {}, bhttp::verb::get);
  EXPECT_EQ(a.status, 405U);
  EXPECT_EQ(code(a), "method_not_allowed");
  // Signed, but not a WhatsApp sender.
  const FormFields sms = {{"MessageSid", "SM1"}, {"AccountSid", "AC1"}, {"From", "+15551234567"}, {"To", "+1415"}};
  const std::string url = "https://support.example.com/webhooks/twilio/whatsapp";
  a = gateway.post("/webhooks/twilio/whatsapp", "MessageSid=SM1&AccountSid=AC1&From=%2B15551234567&To=%2B1415",
                   {kForm, {"X-Twilio-Signature", twilio_signature(kToken, url, sms)}});
  EXPECT_EQ(a.status, 400U);
  EXPECT_EQ(code(a), "invalid_phone_number");
  // Signed, but missing a field.
  const FormFields no_sid = {{"AccountSid", "AC1"}, {"From", "whatsapp:+15551234567"}, {"To", "x"}};
  a = gateway.post("/webhooks/twilio/whatsapp", "AccountSid=AC1&From=whatsapp%3A%2B15551234567&To=x",
                   {kForm, {"X-Twilio-Signature", twilio_signature(kToken, url, no_sid)}});
  EXPECT_EQ(a.status, 400U);
  EXPECT_EQ(code(a), "missing_field");
  EXPECT_EQ(nlohmann::json::parse(a.body)["error"]["field"], "MessageSid");

  EXPECT_TRUE(gateway.published().empty());
}

TEST(TwilioRoutes, JsonBodyNeedsItsHashInTheSignedUrl) {
  Gateway gateway({std::string(kToken)}, public_base());
  const std::string body = R"({"MessageSid":"SMjson","AccountSid":"AC1","From":"whatsapp:+15551234567","To":"x"})";
  const auto target = "/webhooks/twilio/whatsapp?bodySHA256=" + sha256_hex(body);
  const auto signature = twilio_signature(kToken, "https://support.example.com" + target, {});
  const std::pair<std::string, std::string> json{"Content-Type", "application/json"};
  EXPECT_EQ(gateway.post(target, body, {json, {"X-Twilio-Signature", signature}}).status, 200U);
  // Another body under the same signed URL.
  const std::string other = R"({"MessageSid":"SMevil","AccountSid":"AC1","From":"whatsapp:+15551234567","To":"x"})";
  EXPECT_EQ(gateway.post(target, other, {json, {"X-Twilio-Signature", signature}}).status, 403U);
  // No hash in the URL: the body would be unauthenticated.
  const auto bare = twilio_signature(kToken, "https://support.example.com/webhooks/twilio/whatsapp", {});
  EXPECT_EQ(gateway.post("/webhooks/twilio/whatsapp", body, {json, {"X-Twilio-Signature", bare}}).status, 403U);
  const auto records = gateway.published();
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(event_of(records[0]).data["message_sid"], "SMjson");
}

TEST(TwilioRoutes, PreviousTokenIsAcceptedDuringRotation) {
  Gateway gateway({std::string(kToken), std::string(kPreviousToken)}, public_base());
  EXPECT_EQ(gateway
                .post("/webhooks/twilio/whatsapp", kMessageBody,
                      {kForm, {"X-Twilio-Signature", std::string(kMessageSignaturePrevious)}})
                .status,
            200U);
}

TEST(TwilioRoutes, WithoutATokenTheChannelIsNotConfigured) {
  Gateway gateway({}, public_base());
  const auto a = gateway.post("/webhooks/twilio/whatsapp", kMessageBody,
                              {kForm, {"X-Twilio-Signature", std::string(kMessageSignature)}});
  EXPECT_EQ(a.status, 503U);
  EXPECT_EQ(nlohmann::json::parse(a.body)["error"]["code"], "channel_not_configured");
  EXPECT_TRUE(gateway.published().empty());
}

TEST(TwilioRoutes, ForwardedHeadersCountOnlyFromTrustedProxies) {
  const std::vector<std::pair<std::string, std::string>> forwarded = {
      {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "support.example.com"}, {"X-Forwarded-For", "203.0.113.9"}};
  {
    // The test client connects from 127.0.0.1: trusted here.
    OriginPolicy trusted;
    trusted.trusted_proxies = TrustedProxies::parse("127.0.0.0/8");
    Gateway gateway({std::string(kToken)}, trusted);
    const auto a = gateway.post(
        "/webhooks/twilio/whatsapp", kMessageBody,
        {kForm, {"X-Twilio-Signature", std::string(kMessageSignature)}, forwarded[0], forwarded[1], forwarded[2]});
    EXPECT_EQ(a.status, 200U) << a.body;
    const auto records = gateway.published();
    ASSERT_EQ(records.size(), 1U);
    EXPECT_EQ(event_of(records[0]).data["client"]["address"], "203.0.113.9");
  }
  {
    OriginPolicy untrusted;
    untrusted.trusted_proxies = TrustedProxies::parse("10.0.0.0/8");
    Gateway gateway({std::string(kToken)}, untrusted);
    const auto a = gateway.post(
        "/webhooks/twilio/whatsapp", kMessageBody,
        {kForm, {"X-Twilio-Signature", std::string(kMessageSignature)}, forwarded[0], forwarded[1], forwarded[2]});
    EXPECT_EQ(a.status, 403U);
    EXPECT_TRUE(gateway.published().empty());
  }
}

TEST(TwilioRoutes, BrokerDownAnswers503WithRetryAfter) {
  Gateway gateway({std::string(kToken)}, public_base());
  gateway.broker_down();
  const auto a = gateway.post("/webhooks/twilio/whatsapp", kMessageBody,
                              {kForm, {"X-Twilio-Signature", std::string(kMessageSignature)}});
  EXPECT_EQ(a.status, 503U) << a.body;
  EXPECT_EQ(nlohmann::json::parse(a.body)["error"]["code"], "kafka_unavailable");
  EXPECT_EQ(a.retry_after, "1");
}

} // namespace
} // namespace fte::gateway
