#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fte::replies {

/// The PostgreSQL NOTIFY channel that tells the reply dispatcher a reply
/// was committed (ADR 0010), by the agent-worker or a person on the desk;
/// the dispatcher also polls, so a lost notification only delays a reply
/// by one poll interval.
inline constexpr std::string_view kRepliesChannel = "fte_replies";

/// One reply to send: the outbound messages row the agent-worker wrote in
/// the same transaction as the ticket's state (that row is the outbox).
struct OutgoingReply {
  std::string reply_id;            ///< messages.id of the outbound row; stable across retries
  std::string channel;             ///< whatsapp | email | webform
  std::string to;                  ///< the customer: E.164 for whatsapp, an email address otherwise
  std::string subject;             ///< email only; "Re: ..." already applied
  std::string body;                ///< plain text
  nlohmann::json inbound_metadata; ///< channel_metadata of the inbound message answered
  /// WhatsApp only, a person's template reply outside the 24-hour window:
  /// {"content_sid": "HX...", "variables": {"1": "..."}}; null otherwise
  /// (then `body` is sent).
  nlohmann::json whatsapp_template;
  std::string correlation_id;
};

/// What a provider did with a send, sorted by what may follow it. Neither
/// Twilio's nor Gmail's send API takes an idempotency key, so a send is
/// repeated only when the answer proves the first was not accepted.
enum class SendOutcome {
  sent,     ///< accepted: provider_message_id is set
  not_sent, ///< provably not accepted (429, connection refused): retry after retry_after
  rejected, ///< refused for good (a 4xx other than 429): never retried
  ambiguous ///< may have been accepted (timeout, 5xx, reset once sent): reconcile, never resend blindly
};

struct SendResult {
  SendOutcome outcome = SendOutcome::ambiguous;
  std::string provider_message_id; ///< Twilio sid, Gmail message id
  std::string provider_thread_id;  ///< Gmail thread id
  std::string provider_status;     ///< e.g. Twilio's status at acceptance (queued)
  std::string detail;              ///< why, for people: an error code or body excerpt
  std::chrono::seconds retry_after{0};
};

/// One channel's way of sending replies.
class ReplySender {
public:
  virtual ~ReplySender() = default;
  [[nodiscard]] virtual SendResult send(const OutgoingReply& reply) = 0;
  /// After an ambiguous outcome: did the provider accept this reply? `sent`
  /// (with ids) when found, `not_sent` when the provider proves it absent,
  /// nullopt when the provider cannot tell (Twilio has no lookup by our id).
  [[nodiscard]] virtual std::optional<SendResult> reconcile(const OutgoingReply& reply) = 0;
};

} // namespace fte::replies
