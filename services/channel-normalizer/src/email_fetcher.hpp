#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/gmail/gmail_api.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "inbound_message.hpp"
#include "mailbox_store.hpp"

namespace prometheus {
class Registry;
}

namespace fte::normalizer {

inline constexpr std::string_view kEmailNotificationType = "fte.email.notification.received.v1";

/// A Gmail push (fte.email.notification.received.v1) as the fetch needs it.
struct EmailNotification {
  const events::CloudEvent* cause = nullptr; ///< the notification; outlives the batch's handling
  std::string event_id;
  std::string mailbox; ///< lower case (the record key)
  std::uint64_t history_id = 0;
  std::string received_at; ///< RFC 3339, the gateway's receipt time
  std::string source_topic;
  int attempt = 1; ///< the runner's attempt for this record
};

struct EmailFetcherOptions {
  /// Most messages one backfill fetches (FTE_GMAIL_BACKFILL_MAX_MESSAGES).
  std::size_t backfill_max_messages = 500;
  /// The runner's attempts per record (FTE_RETRY_MAX_ATTEMPTS): a message
  /// history names but Gmail does not serve yet fails the batch (retried
  /// with backoff) until the last attempt, which commits the rest and holds
  /// the cursor before it.
  int max_attempts = 5;
  /// How far before the first notification of a mailbox without a cursor
  /// (no `fte gmail watch` recorded it) a backfill reaches.
  std::chrono::seconds first_backfill_window{3600};
  /// A backfill starts this much before the newest message seen: Gmail's
  /// `after:` has one-second steps, and dedup absorbs the overlap.
  std::chrono::seconds backfill_overlap{60};
  /// A message history named that stays unfetchable this long was deleted;
  /// it is given up and the cursor passes it.
  std::chrono::seconds give_up_missing_after{3600};

  /// FTE_GMAIL_BACKFILL_MAX_MESSAGES and the runner's FTE_RETRY_MAX_ATTEMPTS.
  /// @throws ConfigError
  static EmailFetcherOptions from_env(const Environment& env);
};

/// Reads a mailbox's new mail through the Gmail API inside the consumer's
/// transaction (ADR 0009):
///
///   lock the mailbox's cursor row; users.history.list from the cursor (all
///   pages); users.messages.get?format=raw for each added message not yet
///   decided; skip what the mailbox sent itself (SENT or DRAFT label, or
///   From the mailbox — the watch's label filter is not trusted), spam,
///   trash, auto-submitted mail and what cannot be parsed; record each
///   decision by Gmail id; advance the cursor.
///
/// A stale cursor (history 404) or none at all is a bounded backfill:
/// users.getProfile for the history id to continue from, then
/// users.messages.list `after:` the newest message seen. Everything commits
/// with the ticket messages in the outbox, so a failure anywhere leaves the
/// cursor where it was and the notification unclaimed.
///
/// Errors: kafka::UnavailableError when Gmail or the token endpoint cannot
/// be reached or answers 429/5xx (wait, no attempt used); kafka::PoisonError
/// for a refusal that will not heal by itself (403, 400, a revoked grant: the
/// notification goes to the DLQ, the cursor stays, and the next notification
/// after the fix reads everything); MessageNotVisible (a plain retry) for a
/// message Gmail has listed but does not serve yet.
///
/// Thread-safe: lanes take Gmail clients from a small pool.
class EmailFetcher {
public:
  EmailFetcher(EmailFetcherOptions options, gmail::GmailApiOptions api_options,
               std::shared_ptr<gmail::TokenSource> tokens, Logger logger,
               const std::shared_ptr<prometheus::Registry>& metrics = nullptr);
  ~EmailFetcher();
  EmailFetcher(const EmailFetcher&) = delete;
  EmailFetcher& operator=(const EmailFetcher&) = delete;

  /// Reads the notification (schema-checked already). @throws kafka::PoisonError
  [[nodiscard]] static EmailNotification notification_of(const kafka::Delivery& delivery);

  /// Everything new in `mailbox`, for all of its notifications in a batch,
  /// as inbound messages in the order Gmail lists them: sender kind email
  /// (From, lower case), `id` = event_id_from_provider("gmail", mailbox +
  /// ":" + Gmail id), channel_metadata for the reply (PLAN.md). The last
  /// notification is their cause (its receipt time is theirs).
  /// @throws see the class comment.
  [[nodiscard]] std::vector<InboundMessage> fetch(MailboxStore& store, const std::string& mailbox,
                                                  std::span<const EmailNotification> notifications) const;

private:
  class ApiPool;
  struct Metrics;
  EmailFetcherOptions options_;
  Logger logger_;
  std::unique_ptr<ApiPool> apis_;
  std::unique_ptr<Metrics> metrics_;
};

/// Thrown when Gmail lists a message it does not serve yet (a push that
/// outran the message): the batch is retried with backoff.
class MessageNotVisible : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace fte::normalizer
