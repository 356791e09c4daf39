#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/pg/pool.hpp"

namespace prometheus {
class Histogram;
}

namespace fte::runtime {

/// The records a batch produces, each tied to the event that caused it, in
/// the order they are to be published.
class Outputs {
public:
  struct Item {
    std::string source_event_id;
    int seq = 0; ///< order among the outputs of one source event
    kafka::ProducerRecord record;
  };

  /// Adds an event as a record of `topic` keyed by `key`; the envelope is
  /// serialised here, once. A source event's outputs are numbered in the
  /// order they are added, wherever they fall among the others'.
  void add_event(const std::string& source_event_id, std::string topic, std::string key,
                 const events::CloudEvent& event);
  [[nodiscard]] const std::vector<Item>& items() const noexcept { return items_; }
  [[nodiscard]] bool empty() const noexcept { return items_.empty(); }

private:
  std::vector<Item> items_;
  std::unordered_map<std::string, int> next_seq_; ///< by source event
};

/// The transactional outbox (ADR 0007): records are written to the `outbox`
/// table in the same transaction as the state they describe, published
/// after COMMIT, and deleted once the broker has acknowledged them. A
/// process that dies in between leaves its rows; whoever owns them
/// republishes them (a consumer when the source event is redelivered, the
/// reply dispatcher by a sweep of old rows), and their deterministic event
/// ids make the republication a no-op downstream.
///
/// `owner` is the `consumer_group` column: a consumer group, or another
/// writer's own name. A cleaner thread deletes published rows of all
/// callers at once every `cleanup_interval` (synchronous_commit off: losing
/// that delete only republishes records consumers deduplicate).
/// Thread-safe.
class Outbox {
public:
  using RecordsBySource = std::map<std::string, std::vector<kafka::ProducerRecord>, std::less<>>;

  Outbox(std::string owner, pg::ConnectionPool& database, kafka::Producer& producer, Logger logger,
         std::chrono::milliseconds cleanup_interval = std::chrono::milliseconds(200),
         prometheus::Histogram* cleanup_seconds = nullptr);
  /// Deletes what is still queued for cleanup, then returns.
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Declares the outbox statements on a new connection.
  static void prepare(pqxx::connection& connection);

  [[nodiscard]] const std::string& owner() const noexcept { return owner_; }
  [[nodiscard]] kafka::Producer& producer() const noexcept { return producer_; }

  /// Inserts `outputs` inside `tx`, to be published after its COMMIT.
  void write(pqxx::work& tx, const Outputs& outputs) const;

  /// What the table still holds for these source events, in publication
  /// order, leaving out those this process published and has not yet
  /// cleared (a redelivery in that window must not publish them again).
  [[nodiscard]] RecordsBySource left_for(pqxx::work& tx, const std::vector<std::string>& source_event_ids) const;

  /// Source events whose rows are older than `min_age` (a process died
  /// between COMMIT and the acknowledgement, or the broker was away), at
  /// most `limit` of them, oldest first, leaving out those published and
  /// not yet cleared. For writers no redelivery brings back.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>>
  left_behind(pqxx::work& tx, std::chrono::milliseconds min_age, std::size_t limit) const;

  /// Publishes committed outputs in order and waits for every
  /// acknowledgement; on success their rows are queued for deletion and
  /// the result is empty, otherwise it says what failed and the rows stay
  /// for a later republication.
  [[nodiscard]] std::string publish(const Outputs& outputs) const;
  /// The same for records read back with left_for or left_behind.
  [[nodiscard]] std::string
  publish(std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>> records) const;

  /// Queues the rows of these (acknowledged) source events for deletion.
  void published(std::vector<std::string> source_event_ids) const;
  /// True while `source_event_id`'s outputs are published and their rows
  /// not yet deleted.
  [[nodiscard]] bool published_not_cleared(const std::string& source_event_id) const;

private:
  class Cleaner;
  std::string owner_;
  kafka::Producer& producer_;
  Logger logger_;
  std::unique_ptr<Cleaner> cleaner_;
};

} // namespace fte::runtime
