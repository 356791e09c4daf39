#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/http/status.hpp>
#include <nlohmann/json.hpp>

namespace fte::http {
// The status enum alone (as in fte/http/server.hpp): the parser needs no
// HTTP server, so its fuzz target builds without one.
using Status = boost::beast::http::status;
} // namespace fte::http

namespace fte::gateway {

/// A support form submission that passed validation, normalised: email
/// trimmed and lower-cased, phone in E.164, other fields trimmed.
struct WebformSubmission {
  std::string name;
  std::string email;
  std::string subject;
  std::string message;
  std::optional<std::string> category;
  std::optional<std::string> priority;
  /// A phone number the submitter gave. A claim, not a proof: the
  /// normalizer never links it to the customer (ADR 0011).
  std::optional<std::string> phone;

  /// The `data` of fte.webform.submission.received.v1, without the fields
  /// the handler adds (received_at, idempotency_key, client).
  [[nodiscard]] nlohmann::json to_json() const;
};

/// Bad input, as the HTTP answer it becomes: status, a stable machine code,
/// a sentence for people, and the offending field where there is one.
struct ClientError {
  http::Status status;
  std::string code;
  std::string message;
  std::optional<std::string> field;
};

/// Field limits, shared with proto/events/fte.webform.submission.received.v1.schema.json.
struct WebformLimits {
  static constexpr std::size_t kName = 200;
  static constexpr std::size_t kEmail = 254;
  static constexpr std::size_t kSubject = 300;
  static constexpr std::size_t kMessage = 10'000;
  static constexpr std::size_t kCategory = 64;
  static constexpr std::size_t kPhone = 64; ///< as typed, before normalisation to E.164
  static constexpr std::size_t kIdempotencyKey = 255;
};

/// Parses and validates a form body sent as `application/json` or
/// `application/x-www-form-urlencoded` (`content_type` may carry parameters).
/// Never throws on any input: this is the gateway's first contact with the
/// outside world, and it has a fuzz target.
[[nodiscard]] std::variant<WebformSubmission, ClientError> parse_webform(std::string_view content_type,
                                                                         std::string_view body);

/// Checks an Idempotency-Key header value: 1..255 visible ASCII characters.
[[nodiscard]] std::optional<ClientError> check_idempotency_key(std::string_view key);

/// True for a plausible address: one '@', a non-empty local part of at most
/// 64 characters, a dotted domain of letters, digits and hyphens, no spaces.
[[nodiscard]] bool is_valid_email(std::string_view email);

} // namespace fte::gateway
