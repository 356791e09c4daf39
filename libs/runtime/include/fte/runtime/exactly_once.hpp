#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "fte/common/logging.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/outbox.hpp"

namespace prometheus {
class Registry;
}

namespace fte::runtime {

/// A consuming service's own logic: what one batch of first-seen events
/// changes in the database and which events it produces. Everything else —
/// claiming ids, the outbox, publishing, acknowledgements, error
/// classification — is ExactlyOnceHandler's.
class DomainHandler {
public:
  virtual ~DomainHandler() = default;
  /// Declares the domain's prepared statements on a new connection.
  virtual void prepare(pqxx::connection& connection) const = 0;
  /// Applies `fresh` (events this consumer group has never applied, in
  /// offset order per key) inside `tx`, adding what they produce to
  /// `outputs`. Throws to fail the batch: kafka::PoisonError when a record
  /// can never be applied (the runner then isolates it), anything else to
  /// retry.
  virtual void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, Outputs& outputs) const = 0;
};

/// The exactly-once shape every consumer shares, as a batch handler:
///
///   1. one transaction: claim the batch's event ids in processed_messages
///      with one statement (sorted, so concurrent batches lock in one
///      order); the domain applies the first-seen ones; their outputs go to
///      the outbox table; COMMIT;
///   2. publish the outputs (and, for events claimed before, whatever the
///      outbox still holds for them) asynchronously, in batch order, and
///      await every acknowledgement once;
///   3. hand the published events' ids to a cleaner thread, which deletes
///      their outbox rows for all lanes at once every `cleanup_interval`
///      (synchronous_commit off: losing that delete only means republishing
///      records whose ids downstream consumers deduplicate). A separate
///      delete transaction per batch cost four round trips per batch, most
///      of a small batch's database time.
///
/// Only then does the runner finish the offsets. Nothing downstream can see
/// an output before the state it refers to is committed (ADR 0007).
///
/// Errors: a database that cannot be reached becomes kafka::UnavailableError
/// (wait, no attempt used); a permanent SQL error (constraint, data,
/// statement: pg::is_permanent) becomes kafka::PoisonError (DLQ at once
/// when the record is alone); a broker that does not acknowledge becomes
/// UnavailableError after COMMIT — the retry finds the events claimed and
/// publishes from the outbox.
class ExactlyOnceHandler {
public:
  ExactlyOnceHandler(std::string group, pg::ConnectionPool& database, kafka::Producer& producer,
                     const DomainHandler& domain, Logger logger,
                     const std::shared_ptr<prometheus::Registry>& metrics = nullptr,
                     std::chrono::milliseconds cleanup_interval = std::chrono::milliseconds(200));
  /// Deletes what is still queued for cleanup, then returns.
  ~ExactlyOnceHandler();
  ExactlyOnceHandler(const ExactlyOnceHandler&) = delete;
  ExactlyOnceHandler& operator=(const ExactlyOnceHandler&) = delete;

  /// Declares the claim and outbox statements on a new connection.
  static void prepare(pqxx::connection& connection);

  /// The kafka::BatchHandler. @throws see the class comment.
  void operator()(std::span<const kafka::Delivery> batch) const;

private:
  struct Metrics;
  void handle(std::span<const kafka::Delivery> batch) const;

  std::string group_;
  pg::ConnectionPool& database_;
  kafka::Producer& producer_;
  const DomainHandler& domain_;
  Logger logger_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Outbox> outbox_;
};

} // namespace fte::runtime
