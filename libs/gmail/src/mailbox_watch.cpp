#include "fte/gmail/mailbox_watch.hpp"

#include "fte/common/time.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::gmail {
namespace {

// The cursor is set only when there is none: a renewal must never move a
// cursor past messages not yet fetched.
constexpr const char* kRecordWatchSql =
    "INSERT INTO gmail_mailboxes (mailbox, history_id, watch_topic, watch_label_ids, watch_expiration) "
    "VALUES ($1, $2::numeric, $3, $4::text[], $5::timestamptz) "
    "ON CONFLICT (mailbox) DO UPDATE SET history_id = COALESCE(gmail_mailboxes.history_id, EXCLUDED.history_id), "
    "watch_topic = EXCLUDED.watch_topic, watch_label_ids = EXCLUDED.watch_label_ids, "
    "watch_expiration = EXCLUDED.watch_expiration, updated_at = now()";

constexpr const char* kExpiringSql = "SELECT mailbox FROM gmail_mailboxes WHERE watch_expiration IS NOT NULL "
                                     "AND watch_expiration < now() + make_interval(hours => $1) ORDER BY mailbox";

// One mailbox at a time, locked for the length of its users.watch call;
// a replica that finds it locked leaves it to the one holding it.
constexpr const char* kClaimSql = "SELECT watch_topic, watch_label_ids::text FROM gmail_mailboxes WHERE mailbox = $1 "
                                  "AND watch_expiration < now() + make_interval(hours => $2) FOR UPDATE SKIP LOCKED";

std::string label_literal(const std::vector<std::string>& labels) {
  pg::ArrayLiteral literal;
  for (const auto& label : labels)
    literal.add(label);
  return literal.str();
}

// '{INBOX,"My label"}' -> {"INBOX", "My label"}: the labels we stored, read back.
std::vector<std::string> parse_label_literal(const std::string& text) {
  std::vector<std::string> labels;
  if (text.size() < 2) return labels;
  std::string current;
  bool quoted = false;
  bool any = false;
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\' && i + 2 < text.size()) {
      current += text[++i];
    } else if (c == '"') {
      quoted = !quoted;
      any = true;
    } else if (c == ',' && !quoted) {
      labels.push_back(std::move(current));
      current.clear();
      any = false;
    } else {
      current += c;
      any = true;
    }
  }
  if (any || !current.empty()) labels.push_back(std::move(current));
  return labels;
}

void record(pqxx::work& tx, const WatchRequest& request, const WatchResult& result) {
  tx.exec_params(kRecordWatchSql, request.mailbox, std::to_string(result.history_id), request.topic,
                 label_literal(request.label_ids), format_rfc3339(result.expiration));
}

} // namespace

WatchResult start_watch(GmailApi& api, pqxx::connection& database, const WatchRequest& request) {
  const auto result = api.watch(request.mailbox, request.topic, request.label_ids);
  pqxx::work tx(database);
  record(tx, request, result);
  tx.commit();
  return result;
}

RenewalReport renew_expiring_watches(GmailApi& api, pqxx::connection& database, std::string_view topic,
                                     std::chrono::hours horizon, const Logger& logger) {
  RenewalReport report;
  std::vector<std::string> mailboxes;
  {
    pqxx::read_transaction tx(database);
    for (const auto& row : tx.exec_params(kExpiringSql, static_cast<int>(horizon.count())))
      mailboxes.push_back(row[0].as<std::string>());
  }
  for (const auto& mailbox : mailboxes) {
    pqxx::work tx(database);
    const auto claimed = tx.exec_params(kClaimSql, mailbox, static_cast<int>(horizon.count()));
    if (claimed.empty()) continue; // renewed meanwhile, or another replica has it
    WatchRequest request{mailbox, std::string(topic), {}};
    if (request.topic.empty() && !claimed[0][0].is_null()) request.topic = claimed[0][0].as<std::string>();
    if (!claimed[0][1].is_null()) request.label_ids = parse_label_literal(claimed[0][1].as<std::string>());
    if (request.topic.empty()) {
      logger.error("cannot renew a Gmail watch: no Pub/Sub topic (set FTE_GMAIL_PUBSUB_TOPIC)", {{"mailbox", mailbox}});
      ++report.failed;
      continue;
    }
    try {
      const auto result = api.watch(request.mailbox, request.topic, request.label_ids);
      record(tx, request, result);
      tx.commit();
      ++report.renewed;
      logger.info("Gmail watch renewed", {{"mailbox", mailbox}, {"expiration", format_rfc3339(result.expiration)}});
    } catch (const ApiError& e) {
      ++report.failed;
      logger.error("Gmail watch renewal failed; retried at the next pass",
                   {{"mailbox", mailbox}, {"error", e.what()}, {"retryable", e.retryable()}});
    }
  }
  return report;
}

} // namespace fte::gmail
