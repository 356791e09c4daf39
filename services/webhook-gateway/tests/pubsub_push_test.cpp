#include "pubsub_push.hpp"

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/oidc/base64.hpp"
#include "gmail_push_handler.hpp"

namespace fte::gateway {
namespace {

std::string push(const nlohmann::json& data, nlohmann::json message = nlohmann::json::object()) {
  if (!message.contains("data")) message["data"] = oidc::encode_base64(data.dump());
  if (!message.contains("messageId") && !message.contains("message_id")) message["messageId"] = "2070443601311540";
  return nlohmann::json{{"message", message}, {"subscription", "projects/example-project/subscriptions/gmail-push"}}
      .dump();
}

GmailNotification ok(const std::variant<GmailNotification, UnusablePush>& parsed) {
  if (const auto* unusable = std::get_if<UnusablePush>(&parsed)) {
    ADD_FAILURE() << "unexpected " << unusable->code << ": " << unusable->reason;
    return {};
  }
  return std::get<GmailNotification>(parsed);
}

std::string code(const std::variant<GmailNotification, UnusablePush>& parsed) {
  EXPECT_TRUE(std::holds_alternative<UnusablePush>(parsed)) << "expected the push to be unusable";
  return std::holds_alternative<UnusablePush>(parsed) ? std::get<UnusablePush>(parsed).code : std::string();
}

TEST(PubsubPush, ParsesWhatPubsubSends) {
  // The shape of PROTOCOLS.md, both spellings of Pub/Sub's fields side by side.
  const auto body =
      R"({"message":{"data":")" +
      oidc::encode_base64(R"({"emailAddress":"Support@Example.com","historyId":"9876543210"})") +
      R"(","attributes":{"origin":"gmail","n":3},"messageId":"2070443601311540","message_id":"2070443601311540",
                    "publishTime":"2025-03-14T09:31:06.912345Z","publish_time":"2025-03-14T09:31:06.912345Z"},
                    "subscription":"projects/example-project/subscriptions/gmail-push"})";
  const auto n = ok(parse_gmail_push(body));
  EXPECT_EQ(n.email_address, "support@example.com");
  EXPECT_EQ(n.history_id, "9876543210");
  EXPECT_EQ(n.message_id, "2070443601311540");
  EXPECT_EQ(n.subscription, "projects/example-project/subscriptions/gmail-push");
  EXPECT_EQ(n.publish_time, "2025-03-14T09:31:06.912Z");
  EXPECT_EQ(n.attributes, (nlohmann::json{{"origin", "gmail"}})) << "only string attributes are kept";
}

TEST(PubsubPush, MessageIdInEitherSpellingAndHistoryIdAsStringOrNumber) {
  auto n = ok(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", 12345}}, {{"message_id", "m-1"}})));
  EXPECT_EQ(n.message_id, "m-1");
  EXPECT_EQ(n.history_id, "12345");
  n = ok(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", 18446744073709551615ULL}})));
  EXPECT_EQ(n.history_id, "18446744073709551615");
  n = ok(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", "000123"}})));
  EXPECT_EQ(n.history_id, "123");
  EXPECT_FALSE(n.publish_time);
  EXPECT_TRUE(n.attributes.empty());
  // Unparseable or out-of-range publish times are left out, not fatal.
  for (const char* time : {"yesterday", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"}) {
    EXPECT_FALSE(ok(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", "1"}}, {{"publishTime", time}})))
                     .publish_time)
        << time;
  }
  // Padding is optional in what we accept.
  auto data = oidc::encode_base64(R"({"emailAddress":"a@b.co","historyId":"1"})");
  while (!data.empty() && data.back() == '=')
    data.pop_back();
  EXPECT_EQ(ok(parse_gmail_push(push({}, {{"data", data}}))).history_id, "1");
}

TEST(PubsubPush, UnusablePushesAreNamed) {
  EXPECT_EQ(code(parse_gmail_push("")), "invalid_json");
  EXPECT_EQ(code(parse_gmail_push("{not json")), "invalid_json");
  EXPECT_EQ(code(parse_gmail_push("[]")), "invalid_json");
  EXPECT_EQ(code(parse_gmail_push("\"x\"")), "invalid_json");
  EXPECT_EQ(code(parse_gmail_push("{}")), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(R"({"message":"x","subscription":"s"})")), "invalid_push");
  const nlohmann::json good = {{"emailAddress", "a@b.co"}, {"historyId", "1"}};
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"data", ""}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"data", "not base64!"}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"data", oidc::encode_base64url("\xfb\xff\xfe")}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"data", oidc::encode_base64("not json")}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"messageId", ""}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"messageId", 7}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push(good, {{"messageId", std::string(257, '1')}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push({{"historyId", "1"}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push({{"emailAddress", "not-an-address"}, {"historyId", "1"}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push({{"emailAddress", "a b@c.d"}, {"historyId", "1"}}))), "invalid_push");
  EXPECT_EQ(code(parse_gmail_push(push({{"emailAddress", "a@b.co"}}))), "invalid_push");
  for (const nlohmann::json& bad : {nlohmann::json(-1), nlohmann::json(1.5), nlohmann::json("12a"), nlohmann::json(""),
                                    nlohmann::json("-1"), nlohmann::json("+1"), nlohmann::json("99999999999999999999"),
                                    nlohmann::json(nullptr), nlohmann::json::array()}) {
    EXPECT_EQ(code(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", bad}}))), "invalid_push") << bad;
  }
  auto no_subscription = nlohmann::json::parse(push(good));
  no_subscription.erase("subscription");
  EXPECT_EQ(code(parse_gmail_push(no_subscription.dump())), "invalid_push");
}

TEST(PubsubPush, TheEventTheHandlerBuildsMatchesTheContract) {
  const auto n = ok(parse_gmail_push(push(
      {{"emailAddress", "Support@Example.com"}, {"historyId", 9876543210ULL}},
      {{"publishTime", "2025-03-14T09:31:06.912Z"}, {"attributes", {{"k", "v"}}}, {"messageId", "2070443601311540"}})));
  const auto received = std::chrono::system_clock::now();
  auto event =
      events::make_origin_event(event_id_from_provider("pubsub", n.message_id), std::string(GmailPushHandler::kSource),
                                std::string(GmailPushHandler::kEventType), n.to_event_data(received));
  event.subject = n.email_address;
  const contracts::Validator validator;
  const auto violation = validator.validate(event);
  EXPECT_FALSE(violation) << *violation;
  EXPECT_EQ(event.data["email_address"], "support@example.com");
  EXPECT_EQ(event.data["history_id"], "9876543210");
  EXPECT_EQ(event.data["publish_time"], "2025-03-14T09:31:06.912Z");
  EXPECT_EQ(event.id, event_id_from_provider("pubsub", "2070443601311540").str());

  // Without the optional members too.
  const auto bare = ok(parse_gmail_push(push({{"emailAddress", "a@b.co"}, {"historyId", "1"}})));
  auto minimal = events::make_origin_event(event_id_from_provider("pubsub", bare.message_id),
                                           std::string(GmailPushHandler::kSource),
                                           std::string(GmailPushHandler::kEventType), bare.to_event_data(received));
  EXPECT_FALSE(validator.validate(minimal)) << *validator.validate(minimal);
  EXPECT_FALSE(minimal.data.contains("attributes"));
  EXPECT_FALSE(minimal.data.contains("publish_time"));

  // The schema holds the gateway to its word.
  minimal.data["email_address"] = "Upper@Example.com";
  EXPECT_TRUE(validator.validate(minimal));
  minimal.data["email_address"] = "a@b.co";
  minimal.data["history_id"] = 5;
  EXPECT_TRUE(validator.validate(minimal));
}

} // namespace
} // namespace fte::gateway
