#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "gateway_metrics.hpp"

namespace fte::gateway {

/// The CloudEvents `source` of every event the gateway publishes.
inline constexpr std::string_view kGatewaySource = "/fte/webhook-gateway";

/// The part every intake route shares once it has built its event: produce
/// it, wait for the broker, and turn a refusal into the HTTP answer. A
/// route answers its own success only after `publish` says the broker
/// acknowledged the record, so nothing accepted is lost.
class EventPublisher {
public:
  struct Options {
    /// Retry-After of a 503 answer.
    int retry_after_seconds = 1;
  };

  EventPublisher(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger);

  /// Produces `event` to `topic` keyed by `key` and suspends the calling
  /// coroutine (not a thread) until Kafka answers. nullopt once the broker
  /// acknowledged; otherwise the answer to send: 503 `kafka_unavailable`
  /// with Retry-After when a retry can succeed (a delivery that failed or
  /// whose outcome is unknown: the sender retries with the same provider id,
  /// hence the same event id, and consumers deduplicate), 500
  /// `publish_failed` when it cannot. `what` names the message in logs.
  [[nodiscard]] boost::asio::awaitable<std::optional<http::Response>> publish(std::string topic, std::string key,
                                                                              const events::CloudEvent& event,
                                                                              std::string_view what,
                                                                              unsigned version) const;

private:
  Options options_;
  kafka::Producer& producer_;
  GatewayMetrics& metrics_;
  Logger logger_;
};

/// Continues the sender's trace when the request carries a valid W3C
/// `traceparent`: the event's span is a child of the sender's.
void continue_trace(const http::Request& request, events::CloudEvent& event);

} // namespace fte::gateway
