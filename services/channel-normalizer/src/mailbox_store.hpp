#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace fte::normalizer {

/// Where a mailbox's reading stands (gmail_mailboxes).
struct MailboxCursor {
  /// The last history record fully dealt with; none: backfill by date.
  std::optional<std::uint64_t> history_id;
  /// The newest Gmail internalDate fetched: where a backfill starts.
  std::optional<std::chrono::system_clock::time_point> last_message_internal_date;
};

/// What became of one Gmail message (gmail_messages_seen).
struct SeenMessage {
  enum class Outcome { ticket, skipped, missing, vanished };
  std::string gmail_message_id;
  std::string thread_id;
  std::optional<std::chrono::system_clock::time_point> internal_date;
  Outcome outcome = Outcome::ticket;
  std::string detail;   ///< why skipped or given up
  std::string event_id; ///< the ticket message's event id
};

/// The Gmail fetch's state, read and written inside the consumer's
/// transaction. An interface so that EmailFetcher's decisions are tested
/// without a database; PgMailboxStore is the real one.
class MailboxStore {
public:
  virtual ~MailboxStore() = default;

  /// Locks the mailbox's row until the transaction ends, creating it
  /// (without a cursor) when the mailbox is new, and returns its cursor.
  virtual MailboxCursor lock(const std::string& mailbox) = 0;

  struct Known {
    std::set<std::string> settled; ///< ticket, skipped or vanished: never fetched again
    std::map<std::string, std::chrono::system_clock::time_point> missing_since;
  };
  /// What is already known about these message ids.
  virtual Known known(const std::string& mailbox, const std::vector<std::string>& gmail_message_ids) = 0;
  /// Records outcomes (a message recorded missing keeps its first_seen_at).
  virtual void record(const std::string& mailbox, const std::vector<SeenMessage>& messages) = 0;
  virtual void save(const std::string& mailbox, const MailboxCursor& cursor) = 0;
};

/// MailboxStore on PostgreSQL (migration 0005), in the caller's transaction.
class PgMailboxStore final : public MailboxStore {
public:
  explicit PgMailboxStore(pqxx::work& tx) : tx_(tx) {}
  /// Declares the prepared statements.
  static void prepare(pqxx::connection& connection);

  MailboxCursor lock(const std::string& mailbox) override;
  Known known(const std::string& mailbox, const std::vector<std::string>& gmail_message_ids) override;
  void record(const std::string& mailbox, const std::vector<SeenMessage>& messages) override;
  void save(const std::string& mailbox, const MailboxCursor& cursor) override;

private:
  pqxx::work& tx_;
};

[[nodiscard]] const char* to_string(SeenMessage::Outcome outcome) noexcept;

} // namespace fte::normalizer
