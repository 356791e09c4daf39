#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/backoff.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/handles.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/record.hpp"

namespace prometheus {
class Registry;
}

namespace fte::kafka {

/// Thrown by a handler for a record that can never succeed (it violates its
/// schema, refers to something impossible): it goes to the DLQ at once.
class PoisonError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What a handler says about one attempt. Any other exception a handler
/// throws counts as `retry` with the exception's message.
struct HandleResult {
  enum class Status { done, retry, poison };
  Status status = Status::done;
  std::string reason;

  static HandleResult done() { return {Status::done, {}}; }
  static HandleResult retry(std::string reason) { return {Status::retry, std::move(reason)}; }
  static HandleResult poison(std::string reason) { return {Status::poison, std::move(reason)}; }
};

/// One attempt at one record, as the handler sees it.
struct Delivery {
  const ConsumedRecord& record;
  const events::CloudEvent& event;
  int attempt;       ///< 1-based
  const Logger& log; ///< carries correlation_id, event_id, topic, partition, offset
};

using RecordHandler = std::function<HandleResult(const Delivery&)>;
/// Returns a description of the violation, or nullopt when the event is valid.
using EventValidator = std::function<std::optional<std::string>(const events::CloudEvent&)>;

struct ConsumerOptions {
  ClientSettings client;
  std::string group_id;
  std::vector<std::string> topics;
  std::string service_name;
  /// Static membership (group.instance.id), e.g. the pod name: a restarted
  /// pod gets its partitions back without a rebalance.
  std::optional<std::string> group_instance_id;
  /// Worker lanes: records with the same key always go to the same lane and
  /// are handled in offset order; different keys proceed in parallel.
  int lanes = 8;
  /// Records dispatched and not yet finished, above which polling pauses.
  int max_in_flight = 1000;
  std::chrono::milliseconds commit_interval{1000};
  /// How long a stop or a revocation waits for in-flight records.
  std::chrono::milliseconds shutdown_timeout{25'000};
  RetryPolicy retry;
  std::string dlq_topic = "fte.dlq";

  /// FTE_CONSUMER_LANES, FTE_CONSUMER_MAX_IN_FLIGHT, FTE_COMMIT_INTERVAL_MS,
  /// FTE_SHUTDOWN_TIMEOUT_MS, FTE_POD_NAME, FTE_DLQ_TOPIC, the retry policy
  /// and the client settings. @throws ConfigError
  static ConsumerOptions from_env(const Environment& env, std::string service_name, std::string group_id,
                                  std::vector<std::string> topics);
};

/// Runs a consumer group member: at-least-once delivery, exactly-once effect
/// when the handler records the event id in the same transaction as its
/// state change (fte::pg::run_once).
///
/// When an offset is committed: only after every record at or below it in
/// that partition has finished — handled successfully, or written to the DLQ
/// and acknowledged by the broker. Commits happen every commit_interval, on
/// revocation of a partition, and when stopping; never before processing.
/// A record that fails transiently is retried in place with exponential
/// backoff and jitter (so later records of the same key wait), up to
/// retry.max_attempts attempts, then dead-lettered. A record that is not a
/// CloudEvent, fails validation, or whose handler says poison is
/// dead-lettered at once.
class ConsumerRunner {
public:
  /// @throws ConfigError when librdkafka rejects the configuration.
  ConsumerRunner(ConsumerOptions options, RecordHandler handler, Producer& dlq_producer, Logger logger,
                 std::shared_ptr<prometheus::Registry> metrics = nullptr);
  ~ConsumerRunner();
  ConsumerRunner(const ConsumerRunner&) = delete;
  ConsumerRunner& operator=(const ConsumerRunner&) = delete;

  /// Checks each event before the handler sees it (proto/ schemas).
  void set_validator(EventValidator validator);

  /// Subscribes and processes until stop(); then stops polling, finishes
  /// in-flight records (up to shutdown_timeout), commits, and leaves the group.
  void run();
  /// Asks run() to drain and return. Thread-safe; callable before run().
  void stop() noexcept;

  /// True once the member has received its first assignment.
  [[nodiscard]] bool assigned() const noexcept { return assigned_.load(); }

  struct Counters {
    std::uint64_t handled = 0;       ///< records finished by the handler
    std::uint64_t attempts = 0;      ///< handler invocations
    std::uint64_t dead_lettered = 0; ///< records written to the DLQ
    std::uint64_t commits = 0;       ///< successful offset commits
  };
  [[nodiscard]] Counters counters() const noexcept;

private:
  struct PartitionKey {
    std::string topic;
    std::int32_t partition;
    auto operator<=>(const PartitionKey&) const = default;
  };
  struct PartitionProgress {
    std::set<std::int64_t> pending; ///< dispatched and not finished (or abandoned)
    int running = 0;                ///< dispatched and still being worked on
    std::int64_t next_offset = -1;  ///< highest dispatched offset + 1
    std::int64_t committed = -1;
  };
  class Lane;
  struct Metrics;

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void dispatch(ConsumedRecord record);
  void process(const ConsumedRecord& record);
  /// Returns false when the record had to be abandoned (DLQ unreachable while stopping).
  bool dead_letter(const ConsumedRecord& record, const std::string& reason, int attempts, const Logger& log);
  void finish(const ConsumedRecord& record, bool done);
  void commit(const std::vector<PartitionKey>* only);
  bool wait_idle(const std::vector<PartitionKey>* only, std::chrono::milliseconds timeout);
  bool sleep_unless_stopped(std::chrono::milliseconds delay);

  ConsumerOptions options_;
  RecordHandler handler_;
  EventValidator validator_;
  Producer& dlq_;
  Logger logger_;
  std::unique_ptr<Metrics> metrics_;
  KafkaHandle consumer_;
  std::vector<std::unique_ptr<Lane>> lanes_;

  mutable std::mutex progress_mutex_;
  std::condition_variable progress_changed_;
  std::map<PartitionKey, PartitionProgress> progress_;
  int in_flight_ = 0;

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> assigned_{false};
  std::atomic<std::uint64_t> handled_{0}, attempts_{0}, dead_lettered_{0}, commits_{0};
};

} // namespace fte::kafka
