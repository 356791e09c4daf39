#include "mailbox_store.hpp"

#include "fte/common/time.hpp"
#include "fte/gmail/wire.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kCreate = "gmail_create_mailbox";
constexpr const char* kCreateSql = "INSERT INTO gmail_mailboxes (mailbox) VALUES ($1) ON CONFLICT (mailbox) DO NOTHING";
// The row lock serialises every fetch of one mailbox, across lanes and
// replicas: the second waits, then reads the cursor the first committed.
constexpr const char* kLock = "gmail_lock_mailbox";
constexpr const char* kLockSql =
    "SELECT history_id::text, to_char(last_message_internal_date AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM gmail_mailboxes WHERE mailbox = $1 FOR UPDATE";
constexpr const char* kKnown = "gmail_known_messages";
constexpr const char* kKnownSql = "SELECT gmail_message_id, outcome, to_char(first_seen_at AT TIME ZONE 'UTC', "
                                  "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM gmail_messages_seen "
                                  "WHERE mailbox = $1 AND gmail_message_id = ANY($2::text[])";
constexpr const char* kRecord = "gmail_record_messages";
constexpr const char* kRecordSql =
    "INSERT INTO gmail_messages_seen (mailbox, gmail_message_id, thread_id, internal_date, outcome, detail, event_id) "
    "SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[]) "
    "ON CONFLICT (mailbox, gmail_message_id) DO UPDATE SET thread_id = EXCLUDED.thread_id, "
    "internal_date = EXCLUDED.internal_date, outcome = EXCLUDED.outcome, detail = EXCLUDED.detail, "
    "event_id = EXCLUDED.event_id, updated_at = now()";
constexpr const char* kSave = "gmail_save_cursor";
constexpr const char* kSaveSql =
    "UPDATE gmail_mailboxes SET history_id = $2::numeric, last_message_internal_date = $3::timestamptz, "
    "updated_at = now() WHERE mailbox = $1";

std::optional<std::string> optional_time(const std::optional<std::chrono::system_clock::time_point>& at) {
  if (!at) return std::nullopt;
  return format_rfc3339(*at);
}

} // namespace

const char* to_string(SeenMessage::Outcome outcome) noexcept {
  switch (outcome) {
  case SeenMessage::Outcome::ticket: return "ticket";
  case SeenMessage::Outcome::skipped: return "skipped";
  case SeenMessage::Outcome::missing: return "missing";
  case SeenMessage::Outcome::vanished: return "vanished";
  }
  return "ticket";
}

void PgMailboxStore::prepare(pqxx::connection& connection) {
  connection.prepare(kCreate, kCreateSql);
  connection.prepare(kLock, kLockSql);
  connection.prepare(kKnown, kKnownSql);
  connection.prepare(kRecord, kRecordSql);
  connection.prepare(kSave, kSaveSql);
}

MailboxCursor PgMailboxStore::lock(const std::string& mailbox) {
  tx_.exec_prepared(kCreate, mailbox);
  const auto row = tx_.exec_prepared1(kLock, mailbox);
  MailboxCursor cursor;
  if (!row[0].is_null()) cursor.history_id = gmail::parse_decimal_id(row[0].as<std::string>());
  if (!row[1].is_null()) cursor.last_message_internal_date = parse_rfc3339(row[1].as<std::string>());
  return cursor;
}

MailboxStore::Known PgMailboxStore::known(const std::string& mailbox, const std::vector<std::string>& ids) {
  Known known;
  if (ids.empty()) return known;
  pg::ArrayLiteral literal;
  for (const auto& id : ids)
    literal.add(id);
  for (const auto& row : tx_.exec_prepared(kKnown, mailbox, literal.str())) {
    auto id = row[0].as<std::string>();
    if (row[1].as<std::string>() == "missing") {
      if (const auto since = parse_rfc3339(row[2].as<std::string>())) known.missing_since.emplace(id, *since);
    } else {
      known.settled.insert(std::move(id));
    }
  }
  return known;
}

void PgMailboxStore::record(const std::string& mailbox, const std::vector<SeenMessage>& messages) {
  if (messages.empty()) return;
  pg::ArrayLiteral ids, threads, dates, outcomes, details, events;
  for (const auto& m : messages) {
    ids.add(m.gmail_message_id);
    threads.add_or_null(m.thread_id);
    dates.add(optional_time(m.internal_date));
    outcomes.add(to_string(m.outcome));
    details.add_or_null(m.detail);
    events.add_or_null(m.event_id);
  }
  tx_.exec_prepared(kRecord, mailbox, ids.str(), threads.str(), dates.str(), outcomes.str(), details.str(),
                    events.str());
}

void PgMailboxStore::save(const std::string& mailbox, const MailboxCursor& cursor) {
  const std::optional<std::string> history =
      cursor.history_id ? std::optional<std::string>(std::to_string(*cursor.history_id)) : std::nullopt;
  tx_.exec_prepared(kSave, mailbox, history, optional_time(cursor.last_message_internal_date));
}

} // namespace fte::normalizer
