#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// Gmail's and Google OAuth's JSON answers, read into plain structs. These
/// parse what a remote server sent, so they never throw and are fuzzed
/// (fuzz/gmail_api_fuzz.cpp): anything unexpected is a WireError.
namespace fte::gmail {

/// A message as history and list answers name it.
struct MessageRef {
  std::string id;
  std::string thread_id;
  std::vector<std::string> label_ids; ///< empty when the answer did not say
};

/// One `messagesAdded` entry of a history record.
struct HistoryAdded {
  std::uint64_t record_id = 0; ///< the history record's id
  MessageRef message;
};

/// One page of users.history.list.
struct HistoryPage {
  std::vector<HistoryAdded> added; ///< in the order Google listed them (ascending record id)
  std::uint64_t history_id = 0;    ///< the mailbox's current history id when answered
  std::string next_page_token;     ///< empty on the last page
};

/// One page of users.messages.list.
struct MessageListPage {
  std::vector<MessageRef> messages;
  std::string next_page_token;
};

/// users.messages.get?format=raw.
struct RawMessage {
  std::string id;
  std::string thread_id;
  std::vector<std::string> label_ids;
  std::uint64_t history_id = 0;
  std::int64_t internal_date_ms = 0; ///< when Gmail received it, ms since the epoch
  std::string rfc822;                ///< the decoded message bytes
};

/// users.watch.
struct WatchResult {
  std::uint64_t history_id = 0;
  std::chrono::system_clock::time_point expiration;
};

/// users.getProfile.
struct Profile {
  std::string email_address;
  std::uint64_t history_id = 0;
};

/// A token endpoint's success answer.
struct AccessToken {
  std::string token;
  std::chrono::seconds expires_in{0};
};

/// What was wrong with an answer.
struct WireError {
  std::string message;
};

template <class T> using Parsed = std::variant<T, WireError>;

[[nodiscard]] Parsed<HistoryPage> parse_history_page(std::string_view body);
[[nodiscard]] Parsed<MessageListPage> parse_message_list_page(std::string_view body);
/// Also decodes `raw` (base64url); a message without it is an error.
[[nodiscard]] Parsed<RawMessage> parse_raw_message(std::string_view body);
/// users.messages.send answers with the stored message (id, threadId, labelIds).
[[nodiscard]] Parsed<MessageRef> parse_message_ref(std::string_view body);
[[nodiscard]] Parsed<WatchResult> parse_watch_result(std::string_view body);
[[nodiscard]] Parsed<Profile> parse_profile(std::string_view body);
[[nodiscard]] Parsed<AccessToken> parse_access_token(std::string_view body);

/// Google's error answer, in either shape: the APIs'
/// `{"error":{"code","message","errors":[{"reason"}],"status"}}` or the token
/// endpoint's `{"error":"invalid_grant","error_description":"..."}`.
struct GoogleError {
  std::string reason;  ///< errors[0].reason, `status`, or the token endpoint's `error`
  std::string message; ///< Google's message, or an excerpt of a body that is not JSON
};
[[nodiscard]] GoogleError parse_google_error(std::string_view body);

/// A Gmail id (history ids are decimal strings in JSON; a number is taken too).
[[nodiscard]] std::optional<std::uint64_t> parse_decimal_id(std::string_view text);

} // namespace fte::gmail
