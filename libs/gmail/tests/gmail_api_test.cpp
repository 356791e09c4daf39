#include "fte/gmail/gmail_api.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fte/gmail/testing/fake_google.hpp"

namespace fte::gmail {
namespace {

using testing::FakeGoogle;
using testing::FakeMessage;
using testing::make_rfc822;

constexpr const char* kMailbox = "support@example.com";

struct Fixture {
  FakeGoogle google;
  std::shared_ptr<GoogleTokenSource> tokens;
  std::unique_ptr<GmailApi> api;

  Fixture() {
    TokenSourceOptions token_options;
    token_options.token_url = google.token_url();
    token_options.credentials = RefreshTokenCredentials{"c", "s", "r"};
    tokens = std::make_shared<GoogleTokenSource>(token_options);
    GmailApiOptions options;
    options.base_url = google.base_url();
    options.timeout = std::chrono::milliseconds(2'000);
    api = std::make_unique<GmailApi>(options, tokens);
  }

  std::uint64_t deliver(const std::string& id, std::int64_t internal_date_ms = 1'764'064'800'000) {
    FakeMessage message;
    message.id = id;
    message.internal_date_ms = internal_date_ms;
    message.rfc822 =
        make_rfc822("Ada <ada@example.org>", kMailbox, "Hello " + id, "Body of " + id, "<" + id + "@example.org>");
    return google.deliver(kMailbox, message);
  }
};

ApiError expect_api_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an ApiError";
  return ApiError(false, -1, "", "none");
}

TEST(GmailApi, HistoryFollowsEveryPage) {
  Fixture f;
  const auto start = f.google.touch(kMailbox);
  for (int i = 1; i <= 5; ++i)
    f.deliver("m" + std::to_string(i));
  f.google.set_page_size(2);
  const auto result = f.api->list_history(kMailbox, start);
  ASSERT_TRUE(std::holds_alternative<History>(result));
  const auto& history = std::get<History>(result);
  EXPECT_EQ(history.pages, 3);
  ASSERT_EQ(history.added.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ(history.added[i].message.id, "m" + std::to_string(i + 1));
  EXPECT_LT(history.added[0].record_id, history.added[4].record_id);
  EXPECT_EQ(history.history_id, f.google.current_history_id(kMailbox));
  EXPECT_EQ(f.google.count_requests("historyTypes=messageAdded"), 3);
  EXPECT_EQ(f.google.count_requests("pageToken="), 2);
}

TEST(GmailApi, HistoryAfterTheLastRecordIsEmpty) {
  Fixture f;
  const auto last = f.deliver("m1");
  const auto result = f.api->list_history(kMailbox, last);
  ASSERT_TRUE(std::holds_alternative<History>(result));
  EXPECT_TRUE(std::get<History>(result).added.empty());
}

TEST(GmailApi, StaleStartIdIsItsOwnResult) {
  Fixture f;
  const auto old = f.deliver("m1");
  f.deliver("m2");
  f.google.forget_history_before(kMailbox, old + 1);
  EXPECT_TRUE(std::holds_alternative<StaleHistory>(f.api->list_history(kMailbox, old)));
}

TEST(GmailApi, RawMessageAndNotFound) {
  Fixture f;
  f.deliver("m1", 1'764'064'812'345);
  const auto message = f.api->get_raw_message(kMailbox, "m1");
  ASSERT_TRUE(message);
  EXPECT_EQ(message->internal_date_ms, 1'764'064'812'345);
  EXPECT_NE(message->rfc822.find("Subject: Hello m1"), std::string::npos);
  EXPECT_EQ(message->label_ids, (std::vector<std::string>{"INBOX", "UNREAD"}));
  EXPECT_FALSE(f.api->get_raw_message(kMailbox, "nope"));
  f.google.hide("m1");
  EXPECT_FALSE(f.api->get_raw_message(kMailbox, "m1")) << "not visible yet: 404 like any absent message";
}

TEST(GmailApi, TokenIsReusedAndRefreshedOnceOn401) {
  Fixture f;
  f.deliver("m1");
  ASSERT_TRUE(f.api->get_raw_message(kMailbox, "m1"));
  ASSERT_TRUE(f.api->get_raw_message(kMailbox, "m1"));
  EXPECT_EQ(f.google.token_requests(), 1);

  f.google.revoke_tokens(); // the cached token now draws a 401
  ASSERT_TRUE(f.api->get_raw_message(kMailbox, "m1"));
  EXPECT_EQ(f.google.token_requests(), 2);
  EXPECT_EQ(f.google.count_requests("/messages/m1"), 4) << "one refused, then one with the new token";

  // A 401 that a fresh token does not cure is not retried forever.
  f.google.fail_next("/messages/m1", 401, 2);
  const auto error = expect_api_error([&] { (void)f.api->get_raw_message(kMailbox, "m1"); });
  EXPECT_FALSE(error.retryable());
  EXPECT_EQ(error.status(), 401);
  EXPECT_EQ(f.google.token_requests(), 3);
}

TEST(GmailApi, ErrorsAreSortedByWhetherARetryCanHelp) {
  Fixture f;
  f.deliver("m1");
  f.google.fail_next("/messages/m1", 429, 1, "", 7);
  auto error = expect_api_error([&] { (void)f.api->get_raw_message(kMailbox, "m1"); });
  EXPECT_TRUE(error.retryable());
  EXPECT_EQ(error.retry_after(), std::chrono::seconds(7));

  f.google.fail_next("/messages/m1", 503);
  EXPECT_TRUE(expect_api_error([&] { (void)f.api->get_raw_message(kMailbox, "m1"); }).retryable());

  f.google.fail_next("/history", 403, 1,
                     R"({"error": {"code": 403, "message": "Mail service not enabled",
                         "errors": [{"reason": "failedPrecondition"}], "status": "FAILED_PRECONDITION"}})");
  error = expect_api_error([&] { (void)f.api->list_history(kMailbox, 1); });
  EXPECT_FALSE(error.retryable());
  EXPECT_EQ(error.reason(), "failedPrecondition");
  EXPECT_NE(std::string(error.what()).find("Mail service not enabled"), std::string::npos) << error.what();

  f.google.fail_next("/history", 403, 1,
                     R"({"error": {"code": 403, "message": "User-rate limit exceeded",
                         "errors": [{"reason": "userRateLimitExceeded"}]}})");
  EXPECT_TRUE(expect_api_error([&] { (void)f.api->list_history(kMailbox, 1); }).retryable());

  f.google.fail_next("/messages/m1", 400);
  EXPECT_FALSE(expect_api_error([&] { (void)f.api->get_raw_message(kMailbox, "m1"); }).retryable());

  f.google.fail_next("/messages/m1", 200, 1, "this is not JSON");
  EXPECT_TRUE(expect_api_error([&] { (void)f.api->get_raw_message(kMailbox, "m1"); }).retryable());
}

TEST(GmailApi, UnreachableApiIsRetryable) {
  FakeGoogle google; // tokens from here, API nowhere
  TokenSourceOptions token_options;
  token_options.token_url = google.token_url();
  token_options.credentials = RefreshTokenCredentials{"c", "s", "r"};
  GmailApiOptions options;
  options.base_url = "http://127.0.0.1:1";
  GmailApi api(options, std::make_shared<GoogleTokenSource>(token_options));
  const auto error = expect_api_error([&] { (void)api.get_profile(kMailbox); });
  EXPECT_TRUE(error.retryable());
  EXPECT_EQ(error.reason(), "connect_failed");
}

TEST(GmailApi, ListMessagesFollowsPagesUpToTheBound) {
  Fixture f;
  f.google.set_page_size(3);
  for (int i = 1; i <= 8; ++i)
    f.deliver("m" + std::to_string(i), 1'764'064'800'000 + i * 1000);
  auto list = f.api->list_messages(kMailbox, "after:1764064802", 100);
  EXPECT_FALSE(list.truncated);
  ASSERT_EQ(list.messages.size(), 6u) << "m3..m8";
  EXPECT_EQ(list.messages.front().id, "m8") << "newest first";
  list = f.api->list_messages(kMailbox, "after:0", 4);
  EXPECT_TRUE(list.truncated);
  EXPECT_EQ(list.messages.size(), 4u);
  list = f.api->list_messages(kMailbox, "after:0", 8);
  EXPECT_FALSE(list.truncated) << "exactly the bound";
  EXPECT_EQ(list.messages.size(), 8u);
}

TEST(GmailApi, SendFindAndProfile) {
  Fixture f;
  const auto sent = f.api->send_message(
      kMailbox, make_rfc822(kMailbox, "ada@example.org", "Re: Hi", "Answer", "<reply-1@fte.example>"), "thread-9");
  ASSERT_TRUE(std::holds_alternative<MessageRef>(sent));
  EXPECT_EQ(std::get<MessageRef>(sent).thread_id, "thread-9");
  const auto found = f.api->find_sent_by_message_id(kMailbox, "<reply-1@fte.example>");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, std::get<MessageRef>(sent).id);
  EXPECT_FALSE(f.api->find_sent_by_message_id(kMailbox, "<reply-2@fte.example>"));
  EXPECT_EQ(f.api->get_profile(kMailbox).history_id, f.google.current_history_id(kMailbox));
}

TEST(GmailApi, SendReportsInsteadOfThrowing) {
  Fixture f;
  f.google.fail_next("/messages/send", 429, 1, "", 12);
  auto result = f.api->send_message(kMailbox, "x", "");
  ASSERT_TRUE(std::holds_alternative<SendFailure>(result));
  EXPECT_EQ(std::get<SendFailure>(result).status, 429);
  EXPECT_EQ(std::get<SendFailure>(result).retry_after, std::chrono::seconds(12));

  f.google.fail_token_endpoint(400, "invalid_grant");
  f.tokens->invalidate(kMailbox, f.tokens->access_token(kMailbox));
  result = f.api->send_message(kMailbox, "x", "");
  ASSERT_TRUE(std::holds_alternative<SendFailure>(result));
  EXPECT_FALSE(std::get<SendFailure>(result).request_sent);
  EXPECT_EQ(std::get<SendFailure>(result).status, 0) << "the token endpoint's 400 is not Gmail refusing the message";
  EXPECT_EQ(std::get<SendFailure>(result).reason, "invalid_grant");
}

TEST(GmailApi, WatchAndStop) {
  Fixture f;
  const auto watch = f.api->watch(kMailbox, "projects/p/topics/gmail", {"INBOX"});
  EXPECT_EQ(watch.history_id, f.google.current_history_id(kMailbox));
  EXPECT_GT(watch.expiration, std::chrono::system_clock::now() + std::chrono::hours(24 * 6));
  const auto body = nlohmann::json::parse(f.google.last_watch_body());
  EXPECT_EQ(body["topicName"], "projects/p/topics/gmail");
  EXPECT_EQ(body["labelIds"], nlohmann::json::array({"INBOX"}));
  EXPECT_NO_THROW(f.api->stop(kMailbox));
  EXPECT_EQ(f.google.count_requests("/users/support%40example.com/stop"), 1);
}

} // namespace
} // namespace fte::gmail
