#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <pqxx/pqxx>

namespace fte::pg {

/// What one pruning pass removed.
struct PruneReport {
  std::int64_t processed_messages = 0;
  std::int64_t outbox = 0;
};

/// Deletes a consumer group's dedup ids (and leftover outbox rows) older
/// than `window`, in transactions of at most `batch_rows` rows each, so no
/// lock is held for long and the table never waits on one big DELETE.
///
/// The window must be longer than any record can be redelivered or
/// replayed: the topics' retention plus a margin (ADR 0003). An id pruned
/// earlier would let a redelivery of its event apply a second time.
/// @throws whatever libpqxx throws; what was deleted before stays deleted.
PruneReport prune_dedup_state(pqxx::connection& connection, const std::string& group, std::chrono::milliseconds window,
                              int batch_rows = 5000);

} // namespace fte::pg
