#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/errors.hpp"

// librdkafka's handle type, declared so native() can be named without
// bringing rdkafka.h into every includer.
struct rd_kafka_s;

namespace fte::kafka {

/// Any partition: the partitioner chooses (librdkafka's RD_KAFKA_PARTITION_UA).
inline constexpr std::int32_t kAnyPartition = -1;

struct ProducerRecord {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  events::Headers headers;
  std::int32_t partition = kAnyPartition;

  /// A CloudEvent in structured mode with the contract's headers.
  static ProducerRecord from_event(std::string topic, std::string key, const events::CloudEvent& event);
};

/// The outcome of one produce, delivered exactly once per record.
struct DeliveryReport {
  std::error_code error; ///< an fte::kafka::errc; empty on success
  std::string detail;    ///< librdkafka's own words, for logs
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;

  [[nodiscard]] bool ok() const noexcept { return !error; }
  [[nodiscard]] bool retryable() const noexcept { return error && is_retryable(static_cast<errc>(error.value())); }
};

struct ProducerOptions {
  ClientSettings client;
  /// The bound on a delivery (librdkafka message.timeout.ms). A record not
  /// acknowledged by then is reported timed out or possibly persisted.
  std::chrono::milliseconds delivery_timeout{10'000};
  /// librdkafka linger.ms; the floor of a delivery's latency.
  std::chrono::milliseconds linger{1};
  /// When true, no poller thread: the owner waits for delivery_fd() to be
  /// readable and calls poll() on its own thread (an HTTP server's event
  /// loop), so delivery reports run where the waiting requests live instead
  /// of waking a second thread that then wakes the first.
  bool external_poll = false;

  /// FTE_PRODUCE_TIMEOUT_MS, FTE_PRODUCER_LINGER_MS plus ClientSettings.
  /// @throws ConfigError
  static ProducerOptions from_env(const Environment& env, std::string client_id);
};

/// An idempotent, acks=all producer whose partitioner agrees with the Java
/// client (murmur2_random). Thread-safe. A background thread serves delivery
/// reports; each record's handler runs exactly once, on that thread (or on
/// the caller's thread when the record could not even be enqueued), so
/// handlers must be quick and must not block.
class Producer {
public:
  using DeliveryHandler = std::function<void(const DeliveryReport&)>;

  /// @throws ConfigError when librdkafka rejects the configuration.
  Producer(ProducerOptions options, Logger logger);
  /// Flushes for up to the delivery timeout, then reports whatever is still
  /// queued as failed (shutting_down or possibly_persisted) before returning.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  void send_async(ProducerRecord record, DeliveryHandler handler);
  [[nodiscard]] std::future<DeliveryReport> send_async(ProducerRecord record);
  /// Waits for the delivery report.
  DeliveryReport send(ProducerRecord record);

  /// Waits until everything queued is delivered or `timeout` passes.
  bool flush(std::chrono::milliseconds timeout);

  /// With external_poll: a descriptor that becomes readable when delivery
  /// reports (or statistics) are waiting; -1 otherwise. Owned by the producer.
  [[nodiscard]] int delivery_fd() const noexcept;
  /// With external_poll: serves everything waiting (delivery handlers run
  /// here, on the caller's thread) and re-arms delivery_fd(). Returns the
  /// number of events served.
  int poll();

  /// True while at least one broker connection is up (from librdkafka's
  /// statistics, refreshed every second). Readiness probes use it.
  [[nodiscard]] bool broker_available() const noexcept;
  [[nodiscard]] const ProducerOptions& options() const noexcept;
  /// The number of records enqueued and not yet reported.
  [[nodiscard]] int in_flight() const;
  /// For tests and librdkafka's mock cluster only.
  [[nodiscard]] rd_kafka_s* native() const noexcept;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fte::kafka
