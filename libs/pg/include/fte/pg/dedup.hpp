#pragma once

#include <string_view>
#include <utility>

#include <pqxx/pqxx>

#include "fte/common/ids.hpp"

namespace fte::pg {

enum class DedupOutcome {
  applied,   ///< first time: the caller's change committed with the dedup key
  duplicate, ///< this consumer group already applied this event; nothing changed
};

/// The statement that claims an event for a consumer group. Zero rows
/// inserted means the key exists: the event was applied before.
inline constexpr std::string_view kClaimEventSql =
    "INSERT INTO processed_messages (consumer_group, message_id) VALUES ($1, $2) "
    "ON CONFLICT (consumer_group, message_id) DO NOTHING";

/// Applies `change(tx)` exactly once per (group, event id): the dedup key and
/// the change commit in one transaction, or neither does. Run this, and only
/// then commit the Kafka offset (the consumer runner does so): a crash in
/// between makes Kafka redeliver, and the redelivery comes back `duplicate`.
///
/// A concurrent duplicate blocks on the primary key until the first
/// transaction ends, then sees the conflict.
/// @throws whatever `change` or libpqxx throws; the transaction is rolled
///         back and nothing is recorded (see is_transient to decide a retry).
template <class Change>
DedupOutcome run_once(pqxx::connection& connection, const GroupId& group, const EventId& event, Change&& change) {
  pqxx::work tx(connection);
  const pqxx::result claimed = tx.exec_params(std::string(kClaimEventSql), group.str(), event.str());
  if (claimed.affected_rows() == 0) {
    tx.abort();
    return DedupOutcome::duplicate;
  }
  std::forward<Change>(change)(tx);
  tx.commit();
  return DedupOutcome::applied;
}

} // namespace fte::pg
