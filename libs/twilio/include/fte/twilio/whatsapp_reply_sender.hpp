#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "fte/common/config.hpp"
#include "fte/outbound_http/client.hpp"
#include "fte/replies/reply_sender.hpp"

namespace fte::twilio {

/// How to reach Twilio's Messages API for one account.
struct MessagesApiOptions {
  std::string api_base_url = "https://api.twilio.com"; ///< no trailing slash needed
  std::string account_sid;
  std::string auth_token;
  /// Where Twilio posts the reply's delivery statuses; empty asks for none.
  std::string status_callback_url;
  /// The whole exchange; past it the outcome is ambiguous (the message may
  /// have been accepted).
  std::chrono::milliseconds timeout{15'000};
  std::chrono::milliseconds connect_timeout{5'000};

  /// FTE_TWILIO_API_BASE_URL, FTE_TWILIO_ACCOUNT_SID, FTE_TWILIO_AUTH_TOKEN,
  /// FTE_PUBLIC_BASE_URL (StatusCallback = it + /webhooks/twilio/status),
  /// FTE_REPLY_SEND_TIMEOUT_MS. nullopt when the account or the token is
  /// unset: WhatsApp replies are then not configured.
  /// @throws ConfigError for a malformed value
  [[nodiscard]] static std::optional<MessagesApiOptions> from_env(const Environment& env);
};

/// Sends WhatsApp replies through Twilio's Messages API:
/// `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form fields `To`
/// (`whatsapp:+E164`), `From` (our number as the inbound message named it)
/// or `MessagingServiceSid` (when the inbound came through a Messaging
/// Service), `Body`, `StatusCallback`; HTTP Basic auth.
///
/// The API takes no idempotency key, so the answer is sorted by what may
/// follow it (PROTOCOLS.md, Twilio outbound):
///   201/200 with a sid          -> sent (sid, Twilio's status: queued, accepted)
///   429, or error code 20429    -> not_sent (Retry-After honoured)
///   401                         -> not_sent: the credentials are wrong, the
///                                  message was provably not accepted, and
///                                  failing every reply for good over a
///                                  rotated token would be worse than retrying
///   other 4xx                   -> rejected (Twilio's code and message)
///   connection refused or
///   never connected             -> not_sent
///   5xx, timeout, reset, other  -> ambiguous
/// reconcile() returns nullopt: Twilio cannot be asked for a message by an id
/// of ours. One sender owns one HTTP client: use one per thread.
class WhatsAppReplySender final : public replies::ReplySender {
public:
  explicit WhatsAppReplySender(MessagesApiOptions options, outbound_http::ClientOptions client = {});

  [[nodiscard]] replies::SendResult send(const replies::OutgoingReply& reply) override;
  [[nodiscard]] std::optional<replies::SendResult> reconcile(const replies::OutgoingReply& reply) override;

  /// The form fields of the request for `reply`, or why none can be built
  /// (a reply whose inbound metadata names no sender of ours).
  [[nodiscard]] static std::variant<std::vector<std::pair<std::string, std::string>>, std::string>
  form_fields(const MessagesApiOptions& options, const replies::OutgoingReply& reply);
  /// What an answer (or the failure to get one) means; see the class comment.
  [[nodiscard]] static replies::SendResult
  classify(const std::variant<outbound_http::Response, outbound_http::Failure>& answer);

private:
  MessagesApiOptions options_;
  std::string url_;
  std::string authorization_;
  outbound_http::Client client_;
};

} // namespace fte::twilio
