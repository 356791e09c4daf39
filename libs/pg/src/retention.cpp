#include "fte/pg/retention.hpp"

namespace fte::pg {
namespace {

// ctid batches: each DELETE takes at most batch_rows of the oldest rows
// through the (consumer_group, processed_at) index and commits on its own.
constexpr const char* kPruneProcessedSql =
    "DELETE FROM processed_messages WHERE ctid = ANY(ARRAY("
    " SELECT ctid FROM processed_messages"
    " WHERE consumer_group = $1 AND processed_at < now() - make_interval(secs => $2::double precision)"
    " ORDER BY processed_at LIMIT $3))";
constexpr const char* kPruneOutboxSql =
    "DELETE FROM outbox WHERE ctid = ANY(ARRAY("
    " SELECT ctid FROM outbox"
    " WHERE consumer_group = $1 AND created_at < now() - make_interval(secs => $2::double precision)"
    " LIMIT $3))";

std::int64_t prune(pqxx::connection& connection, const char* sql, const std::string& group, double seconds,
                   int batch_rows) {
  std::int64_t total = 0;
  for (;;) {
    pqxx::work tx(connection);
    const auto deleted = tx.exec_params(sql, group, seconds, batch_rows).affected_rows();
    tx.commit();
    total += static_cast<std::int64_t>(deleted);
    if (deleted < static_cast<std::size_t>(batch_rows)) return total;
  }
}

} // namespace

PruneReport prune_dedup_state(pqxx::connection& connection, const std::string& group, std::chrono::milliseconds window,
                              int batch_rows) {
  const double seconds = static_cast<double>(window.count()) / 1000.0;
  PruneReport report;
  report.processed_messages = prune(connection, kPruneProcessedSql, group, seconds, batch_rows);
  report.outbox = prune(connection, kPruneOutboxSql, group, seconds, batch_rows);
  return report;
}

} // namespace fte::pg
