#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "fte/common/logging.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "gateway_metrics.hpp"

namespace fte::gateway {

/// Produces `event` to `topic` under `key` and waits for the broker's
/// answer without blocking the thread (async_produce). Records the produce
/// latency by outcome and logs a failed delivery, naming `what` was being
/// stored ("webform submission", "gmail notification"). Every route that
/// answers 2xx only after the broker acknowledged goes through here.
[[nodiscard]] boost::asio::awaitable<kafka::DeliveryReport>
publish_event(kafka::Producer& producer, GatewayMetrics& metrics, const Logger& logger, const std::string& topic,
              const std::string& key, const events::CloudEvent& event, std::string_view what);

/// 503 `kafka_unavailable` with Retry-After: the sender should try again.
[[nodiscard]] http::Response kafka_unavailable_response(const kafka::DeliveryReport& report, int retry_after_seconds,
                                                        unsigned version);

/// The answer to a failed delivery: kafka_unavailable_response() when a
/// retry can succeed, otherwise 500 `publish_failed`.
[[nodiscard]] http::Response delivery_failed_response(const kafka::DeliveryReport& report, int retry_after_seconds,
                                                      unsigned version);

} // namespace fte::gateway
