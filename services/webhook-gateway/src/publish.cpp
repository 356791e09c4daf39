#include "publish.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "async_produce.hpp"

namespace fte::gateway {

boost::asio::awaitable<kafka::DeliveryReport> publish_event(kafka::Producer& producer, GatewayMetrics& metrics,
                                                            const Logger& logger, const std::string& topic,
                                                            const std::string& key, const events::CloudEvent& event,
                                                            std::string_view what) {
  const auto started = std::chrono::steady_clock::now();
  auto report = co_await async_produce(producer, kafka::ProducerRecord::from_event(topic, key, event),
                                       boost::asio::use_awaitable);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (report.ok()) {
    metrics.produce_finished(topic, "ok", seconds);
    co_return report;
  }
  metrics.produce_finished(topic, report.retryable() ? "retryable_error" : "fatal_error", seconds);
  logger.warn(std::string(what) + " not accepted: Kafka did not take it", {{"event_id", event.id},
                                                                           {"correlation_id", event.correlationid},
                                                                           {"error", report.error.message()},
                                                                           {"detail", report.detail}});
  co_return report;
}

http::Response kafka_unavailable_response(const kafka::DeliveryReport& report, int retry_after_seconds,
                                          unsigned version) {
  auto response = http::error_response(http::Status::service_unavailable, "kafka_unavailable",
                                       "the message could not be stored (" + report.error.message() + "); retry later",
                                       std::nullopt, version);
  response.set(boost::beast::http::field::retry_after, std::to_string(retry_after_seconds));
  return response;
}

http::Response delivery_failed_response(const kafka::DeliveryReport& report, int retry_after_seconds,
                                        unsigned version) {
  if (report.retryable()) return kafka_unavailable_response(report, retry_after_seconds, version);
  return http::error_response(http::Status::internal_server_error, "publish_failed",
                              "the message could not be stored (" + report.error.message() + ")", std::nullopt,
                              version);
}

} // namespace fte::gateway
