#include "event_publisher.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "async_produce.hpp"
#include "client_error.hpp"

namespace fte::gateway {

namespace bhttp = boost::beast::http;

EventPublisher::EventPublisher(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger)
    : options_(options), producer_(producer), metrics_(metrics), logger_(std::move(logger)) {}

boost::asio::awaitable<std::optional<http::Response>> EventPublisher::publish(std::string topic, std::string key,
                                                                              const events::CloudEvent& event,
                                                                              std::string_view what,
                                                                              unsigned version) const {
  const auto produce_started = std::chrono::steady_clock::now();
  const auto report = co_await async_produce(producer_, kafka::ProducerRecord::from_event(topic, std::move(key), event),
                                             boost::asio::use_awaitable);
  const double produce_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - produce_started).count();

  if (report.ok()) {
    metrics_.produce_finished(topic, "ok", produce_seconds);
    if (logger_.enabled(spdlog::level::debug)) {
      logger_.debug(std::string(what) + " accepted", {{"event_id", event.id},
                                                      {"correlation_id", event.correlationid},
                                                      {"partition", report.partition},
                                                      {"offset", report.offset}});
    }
    co_return std::nullopt;
  }
  const auto reason = report.error.message();
  metrics_.produce_finished(topic, report.retryable() ? "retryable_error" : "fatal_error", produce_seconds);
  logger_.warn(
      std::string(what) + " not accepted: Kafka did not take it",
      {{"event_id", event.id}, {"correlation_id", event.correlationid}, {"error", reason}, {"detail", report.detail}});
  if (report.retryable()) {
    auto response =
        http::error_response(http::Status::service_unavailable, "kafka_unavailable",
                             "the message could not be stored (" + reason + "); retry later", std::nullopt, version);
    response.set(bhttp::field::retry_after, std::to_string(options_.retry_after_seconds));
    co_return response;
  }
  co_return http::error_response(http::Status::internal_server_error, "publish_failed",
                                 "the message could not be stored (" + reason + ")", std::nullopt, version);
}

void continue_trace(const http::Request& request, events::CloudEvent& event) {
  if (auto parent = events::TraceParent::parse(header_value(request, "traceparent"))) {
    event.trace = parent->child();
  }
}

} // namespace fte::gateway
