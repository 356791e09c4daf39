#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/backoff.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/record.hpp"

namespace prometheus {
class Registry;
}

namespace fte::kafka {

/// Thrown by a handler for a record that can never succeed (it violates its
/// schema, refers to something impossible, breaks a database constraint):
/// it goes to the DLQ at once.
class PoisonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Thrown by a handler when something it depends on (the database, the
/// broker) cannot be reached. The record is not at fault: it is retried with
/// backoff for as long as that lasts, without using up its attempts, so an
/// outage sends nothing to the DLQ.
class UnavailableError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What a per-record handler says about one attempt. Any other exception a
/// handler throws counts as `retry` with the exception's message.
struct HandleResult {
  enum class Status { done, retry, poison };
  Status status = Status::done;
  std::string reason;

  static HandleResult done() { return {Status::done, {}}; }
  static HandleResult retry(std::string reason) { return {Status::retry, std::move(reason)}; }
  static HandleResult poison(std::string reason) { return {Status::poison, std::move(reason)}; }
};

/// One record as a handler sees it: parsed, checked against its schema, and
/// of a type the consumer accepts.
struct Delivery {
  const ConsumedRecord& record;
  const events::CloudEvent& event;
  int attempt;       ///< 1-based; a record in a first batch attempt is at 1
  const Logger& log; ///< the runner's logger; per-record lines belong at debug
};

/// Handles one record; see HandleResult.
using RecordHandler = std::function<HandleResult(const Delivery&)>;
/// Handles the records a lane has ready, in offset order per key, as one
/// unit: returns when all of them are done, throws when none is (a batch is
/// all or nothing). After a throw the runner retries the records one at a
/// time (a span of one), so retries, backoff and the DLQ act on the one bad
/// record: PoisonError dead-letters it, UnavailableError waits, anything
/// else uses up an attempt.
using BatchHandler = std::function<void(std::span<const Delivery> batch)>;
/// Checks a record value as it arrived (the parsed JSON envelope); returns a
/// description of the violation, or nullopt when it is valid.
using EventValidator = std::function<std::optional<std::string>(const nlohmann::json& envelope)>;

struct ConsumerOptions {
  ClientSettings client;
  std::string group_id;
  std::vector<std::string> topics;
  std::string service_name;
  /// Static membership (group.instance.id), e.g. the pod name: a restarted
  /// pod gets its partitions back without a rebalance.
  std::optional<std::string> group_instance_id;
  /// Worker lanes: records with the same key always go to the same lane and
  /// are handled in offset order; different keys proceed in parallel. Each
  /// lane runs one batch at a time, so this is also the number of concurrent
  /// transactions: twice the cores by default, since a lane spends part of
  /// its time waiting on the database and the broker.
  int lanes = 4;
  /// Records dispatched and not yet finished, above which polling pauses.
  int max_in_flight = 10'000;
  /// A lane's batch: at most this many records...
  int batch_max_records = 500;
  /// ...and, once a lane has one record, at most this long waiting for more
  /// before it starts (0: take what is there).
  std::chrono::milliseconds batch_max_wait{5};
  std::chrono::milliseconds commit_interval{1000};
  /// How long a stop or a revocation waits for in-flight records.
  std::chrono::milliseconds shutdown_timeout{25'000};
  RetryPolicy retry;
  std::string dlq_topic = "fte.dlq";
  /// Event types this consumer handles; any other goes to the DLQ at once.
  /// Empty: every type.
  std::vector<std::string> accepted_types;

  /// FTE_CONSUMER_LANES, FTE_CONSUMER_MAX_IN_FLIGHT, FTE_CONSUMER_BATCH_MAX,
  /// FTE_CONSUMER_BATCH_WAIT_MS, FTE_COMMIT_INTERVAL_MS,
  /// FTE_SHUTDOWN_TIMEOUT_MS, FTE_POD_NAME, FTE_DLQ_TOPIC, the retry policy
  /// and the client settings. @throws ConfigError
  static ConsumerOptions from_env(const Environment& env, std::string service_name, std::string group_id,
                                  std::vector<std::string> topics);
};

/// Runs a consumer group member: at-least-once delivery, exactly-once effect
/// when the handler records the event id in the same transaction as its
/// state change (fte::pg::run_once, fte::runtime::ExactlyOnceHandler).
///
/// Records are parsed and validated once, in the lane that owns their key
/// (a record that is not a CloudEvent, violates its schema or has a type the
/// consumer does not accept is dead-lettered at once), then handed to the
/// handler: a batch handler gets every record its lane has ready, up to
/// batch_max_records, in one call.
///
/// When an offset is committed: only after every record at or below it in
/// that partition has finished — handled successfully, or written to the DLQ
/// and acknowledged by the broker. Commits happen every commit_interval, on
/// revocation of a partition, and when stopping; never before processing.
/// A record that fails is retried in place with exponential backoff and
/// jitter (so later records of the same key wait), up to retry.max_attempts
/// attempts, then dead-lettered; while a dependency is unavailable
/// (UnavailableError) it waits without using up attempts.
class ConsumerRunner {
public:
  /// @throws ConfigError when librdkafka rejects the configuration.
  ConsumerRunner(ConsumerOptions options, RecordHandler handler, Producer& dlq_producer, Logger logger,
                 std::shared_ptr<prometheus::Registry> metrics = nullptr);
  /// @throws ConfigError when librdkafka rejects the configuration.
  ConsumerRunner(ConsumerOptions options, BatchHandler handler, Producer& dlq_producer, Logger logger,
                 std::shared_ptr<prometheus::Registry> metrics = nullptr);
  ~ConsumerRunner();
  ConsumerRunner(const ConsumerRunner&) = delete;
  ConsumerRunner& operator=(const ConsumerRunner&) = delete;

  /// Checks each record's envelope (and data) before the handler sees it.
  /// Set before run().
  void set_validator(EventValidator validator);

  /// Subscribes and processes until stop(); then stops polling, finishes
  /// in-flight records (up to shutdown_timeout), commits, and leaves the group.
  void run();
  /// Asks run() to drain and return. Thread-safe; callable before run().
  void stop() noexcept;

  /// True once the member has received its first assignment.
  [[nodiscard]] bool assigned() const noexcept;

  struct Counters {
    std::uint64_t handled = 0;       ///< records finished by the handler
    std::uint64_t attempts = 0;      ///< handler invocations (a batch counts once)
    std::uint64_t dead_lettered = 0; ///< records written to the DLQ
    std::uint64_t commits = 0;       ///< successful offset commits
    std::uint64_t batches = 0;       ///< batches handled whole
  };
  [[nodiscard]] Counters counters() const noexcept;

private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fte::kafka
