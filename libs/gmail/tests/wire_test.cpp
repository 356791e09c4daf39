#include "fte/gmail/wire.hpp"

#include <gtest/gtest.h>

namespace fte::gmail {
namespace {

template <class T> T ok(const Parsed<T>& parsed) {
  if (const auto* error = std::get_if<WireError>(&parsed)) ADD_FAILURE() << error->message;
  return std::get<T>(parsed);
}

TEST(GmailWire, HistoryPageKeepsOnlyMessagesAddedInOrder) {
  const auto parsed = parse_history_page(R"({
    "history": [
      {"id": "1010", "messages": [{"id": "a", "threadId": "t"}],
       "messagesAdded": [{"message": {"id": "a", "threadId": "t", "labelIds": ["INBOX", "UNREAD"]}}]},
      {"id": "1013", "labelsAdded": [{"message": {"id": "a"}, "labelIds": ["STARRED"]}]},
      {"id": "1020", "messagesAdded": [{"message": {"id": "b", "threadId": "t2"}},
                                        {"message": {"id": "c", "threadId": "t3", "labelIds": ["SENT"]}}]}
    ],
    "nextPageToken": "p2",
    "historyId": "1024"
  })");
  const auto& page = ok(parsed);
  ASSERT_EQ(page.added.size(), 3u);
  EXPECT_EQ(page.added[0].record_id, 1010u);
  EXPECT_EQ(page.added[0].message.id, "a");
  EXPECT_EQ(page.added[0].message.label_ids, (std::vector<std::string>{"INBOX", "UNREAD"}));
  EXPECT_EQ(page.added[2].record_id, 1020u);
  EXPECT_EQ(page.added[2].message.label_ids, std::vector<std::string>{"SENT"});
  EXPECT_EQ(page.history_id, 1024u);
  EXPECT_EQ(page.next_page_token, "p2");
}

TEST(GmailWire, HistoryPageWithoutChangesIsEmpty) {
  const auto& page = ok(parse_history_page(R"({"historyId": "77"})"));
  EXPECT_TRUE(page.added.empty());
  EXPECT_TRUE(page.next_page_token.empty());
  EXPECT_EQ(page.history_id, 77u);
}

TEST(GmailWire, MalformedHistoryIsAnErrorNotAnException) {
  for (const char* body : {"", "[]", "{", R"({"history": []})", R"({"historyId": "x1"})",
                           R"({"historyId": "1", "history": {}})", R"({"historyId": "1", "history": [{"id": "2",
                           "messagesAdded": [{"message": {}}]}]})",
                           R"({"historyId": "1", "history": [{"messagesAdded": []}]})", R"({"historyId": "-1"})",
                           R"({"historyId": "18446744073709551616"})"}) {
    EXPECT_TRUE(std::holds_alternative<WireError>(parse_history_page(body))) << body;
  }
}

TEST(GmailWire, RawMessageIsDecoded) {
  // "From: a@b\r\n\r\nhi" in base64url without padding
  const auto& message = ok(parse_raw_message(
      R"({"id": "m1", "threadId": "t1", "labelIds": ["INBOX"], "historyId": "500",
          "internalDate": "1764064800000", "raw": "RnJvbTogYUBiDQoNCmhp"})"));
  EXPECT_EQ(message.id, "m1");
  EXPECT_EQ(message.thread_id, "t1");
  EXPECT_EQ(message.history_id, 500u);
  EXPECT_EQ(message.internal_date_ms, 1764064800000);
  EXPECT_EQ(message.rfc822, "From: a@b\r\n\r\nhi");
  EXPECT_TRUE(std::holds_alternative<WireError>(parse_raw_message(R"({"id": "m1"})")));
  // An internalDate system_clock cannot hold is left out, not overflowed.
  EXPECT_EQ(ok(parse_raw_message(R"({"id": "m1", "internalDate": 99999999999999999, "raw": ""})")).internal_date_ms, 0);
  EXPECT_TRUE(std::holds_alternative<WireError>(parse_raw_message(R"({"id": "m1", "raw": "!!"})")));
}

TEST(GmailWire, MessageListAndWatchAndProfileAndToken) {
  const auto& list = ok(parse_message_list_page(
      R"({"messages": [{"id": "x", "threadId": "y"}], "nextPageToken": "n", "resultSizeEstimate": 3})"));
  ASSERT_EQ(list.messages.size(), 1u);
  EXPECT_EQ(list.messages[0].thread_id, "y");
  EXPECT_EQ(list.next_page_token, "n");
  EXPECT_TRUE(ok(parse_message_list_page(R"({"resultSizeEstimate": 0})")).messages.empty());

  const auto& watch = ok(parse_watch_result(R"({"historyId": "1234", "expiration": "1764669600000"})"));
  EXPECT_EQ(watch.history_id, 1234u);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(watch.expiration.time_since_epoch()).count(),
            1764669600000);
  EXPECT_TRUE(std::holds_alternative<WireError>(parse_watch_result(R"({"historyId": "1"})")));
  // Year 9999: a valid date, but past system_clock's 2262 (the fuzzer found
  // the signed overflow this used to be).
  EXPECT_TRUE(
      std::holds_alternative<WireError>(parse_watch_result(R"({"historyId": "1", "expiration": "253402300799000"})")));

  EXPECT_EQ(ok(parse_profile(R"({"emailAddress": "s@x.com", "historyId": "9"})")).history_id, 9u);

  const auto& token =
      ok(parse_access_token(R"({"access_token": "ya29.x", "expires_in": 3599, "token_type": "Bearer"})"));
  EXPECT_EQ(token.token, "ya29.x");
  EXPECT_EQ(token.expires_in, std::chrono::seconds(3599));
  EXPECT_TRUE(std::holds_alternative<WireError>(parse_access_token(R"({"expires_in": 3599})")));
}

TEST(GmailWire, GoogleErrorsInBothShapes) {
  const auto api = parse_google_error(
      R"({"error": {"code": 403, "message": "Delegation denied for support@example.com",
          "errors": [{"message": "Delegation denied", "domain": "global", "reason": "forbidden"}],
          "status": "PERMISSION_DENIED"}})");
  EXPECT_EQ(api.reason, "forbidden");
  EXPECT_EQ(api.message, "Delegation denied for support@example.com");
  const auto oauth =
      parse_google_error(R"({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})");
  EXPECT_EQ(oauth.reason, "invalid_grant");
  EXPECT_EQ(oauth.message, "Token has been expired or revoked.");
  const auto html = parse_google_error("<html>Bad Gateway</html>");
  EXPECT_EQ(html.message, "<html>Bad Gateway</html>");
}

TEST(GmailWire, DecimalIds) {
  EXPECT_EQ(parse_decimal_id("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(parse_decimal_id(""));
  EXPECT_FALSE(parse_decimal_id("12a"));
  EXPECT_FALSE(parse_decimal_id("+1"));
}

} // namespace
} // namespace fte::gmail
