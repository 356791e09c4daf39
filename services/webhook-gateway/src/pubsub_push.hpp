#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace fte::gateway {

/// A Gmail change notification as Pub/Sub pushed it (PROTOCOLS.md, Gmail
/// push): the mailbox and history id from the base64 `data`, and Pub/Sub's
/// own envelope fields.
struct GmailNotification {
  std::string email_address;                            ///< lower case; the record key
  std::string history_id;                               ///< canonical decimal (Gmail's is a uint64)
  std::string message_id;                               ///< Pub/Sub `messageId` (or `message_id`)
  std::string subscription;                             ///< `projects/P/subscriptions/S`
  std::optional<std::string> publish_time;              ///< RFC 3339 UTC, when Pub/Sub gave a parseable one
  nlohmann::json attributes = nlohmann::json::object(); ///< string-valued attributes only

  /// The `data` of fte.email.notification.received.v1, `received_at` added.
  [[nodiscard]] nlohmann::json to_event_data(std::chrono::system_clock::time_point received_at) const;
};

/// Why an authenticated push can never be turned into a notification.
/// Pub/Sub retries every non-2xx until retention expires, so these are
/// acknowledged (200) and counted, not refused.
struct UnusablePush {
  std::string code;   ///< `invalid_json` (the body) or `invalid_push` (its content)
  std::string reason; ///< for the log
};

/// Limits, shared with proto/events/fte.email.notification.received.v1.schema.json.
struct PushLimits {
  static constexpr std::size_t kEmailAddress = 254;
  static constexpr std::size_t kMessageId = 256;
  static constexpr std::size_t kSubscription = 512;
  static constexpr std::size_t kAttributes = 100; ///< Pub/Sub's own limit
  static constexpr std::size_t kAttributeKey = 256;
  static constexpr std::size_t kAttributeValue = 1024;
};

/// Parses a Pub/Sub push body: `{"message":{"data","messageId"|"message_id",
/// "publishTime"|"publish_time"?,"attributes"?},"subscription"}` with `data`
/// standard base64 of `{"emailAddress","historyId"}` (historyId a string of
/// digits or a JSON number). Never throws on any input: this is the first
/// code to touch what came off the network once the token checked out.
[[nodiscard]] std::variant<GmailNotification, UnusablePush> parse_gmail_push(std::string_view body) noexcept;

} // namespace fte::gateway
