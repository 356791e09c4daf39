#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "fte/common/config.hpp"
#include "fte/gmail/gmail_api.hpp"
#include "fte/mail/mail.hpp"
#include "fte/replies/reply_sender.hpp"

namespace fte::gmail {

struct EmailReplyOptions {
  /// The mailbox that answers web-form submissions (FTE_REPLY_FROM_EMAIL);
  /// an email is answered from the mailbox it was sent to.
  std::string default_from;
  /// The right-hand side of reply Message-IDs (FTE_MESSAGE_ID_DOMAIN).
  std::string message_id_domain = "fte.invalid";
  /// When Google gave no Retry-After: how long a provably unsent reply waits.
  std::chrono::seconds not_sent_retry{30};
  /// How long after a credentials failure (a 401 after a fresh token, a
  /// refused grant) before trying again: someone has to fix them first.
  std::chrono::seconds credentials_retry{300};
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };

  /// FTE_REPLY_FROM_EMAIL, FTE_MESSAGE_ID_DOMAIN. @throws ConfigError
  static EmailReplyOptions from_env(const Environment& env);
};

/// Sends email and web-form replies through Gmail users.messages.send, in
/// the customer's thread, with a Message-ID derived from the reply id so
/// that a reply whose send was ambiguous can be looked up rather than sent
/// again (ADR 0009).
///
/// Outcomes: 2xx sent; 429, a Gmail rate-limit 403, a refused connection or
/// no access token not_sent (with retry_after); a 401 after a fresh token
/// not_sent after credentials_retry (the reply was refused for who sent it,
/// not for what it is, and must survive until the credentials are fixed);
/// any other 4xx rejected; 5xx, a timeout or a reset after sending, or an
/// unreadable 2xx ambiguous.
///
/// Thread-safe (one Gmail client behind a mutex).
class EmailReplySender final : public replies::ReplySender {
public:
  EmailReplySender(EmailReplyOptions options, GmailApiOptions api_options, std::shared_ptr<TokenSource> tokens);

  [[nodiscard]] replies::SendResult send(const replies::OutgoingReply& reply) override;
  /// Searches the sending mailbox's Sent folder for the reply's Message-ID.
  /// Gmail's search index may lag a send by a few minutes, so a caller
  /// reconciles an ambiguous send only once that long has passed; before,
  /// "not found" proves nothing.
  [[nodiscard]] std::optional<replies::SendResult> reconcile(const replies::OutgoingReply& reply) override;

  /// The mailbox a reply goes out from (empty when none is known).
  [[nodiscard]] std::string sending_mailbox(const replies::OutgoingReply& reply) const;
  /// The message send() composes and hands to Gmail.
  /// @throws std::invalid_argument when the reply id cannot make a Message-ID
  [[nodiscard]] mail::OutgoingEmail compose(const replies::OutgoingReply& reply) const;

private:
  EmailReplyOptions options_;
  std::mutex mutex_; // GmailApi owns one HTTP client, used by one thread at a time
  GmailApi api_;
};

} // namespace fte::gmail
