#include "gateway_metrics.hpp"

namespace fte::gateway {
namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 5, 10};
  return buckets;
}

} // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("fte_http_requests_total")
                    .Help("HTTP requests answered, by route, method and status")
                    .Register(registry)),
      request_seconds_(prometheus::BuildHistogram()
                           .Name("fte_http_request_duration_seconds")
                           .Help("Time from a request's arrival to its answer, by route and status")
                           .Register(registry)),
      produce_seconds_(prometheus::BuildHistogram()
                           .Name("fte_kafka_produce_duration_seconds")
                           .Help("Time from produce to the broker's acknowledgement, by topic and outcome")
                           .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("fte_http_requests_in_flight")
                     .Help("Requests being handled")
                     .Register(registry)
                     .Add({})) {}

void GatewayMetrics::request_finished(const std::string& route, const std::string& method, int status, double seconds) {
  const auto code = std::to_string(status);
  requests_.Add({{"route", route}, {"method", method}, {"status", code}}).Increment();
  request_seconds_.Add({{"route", route}, {"status", code}}, latency_buckets()).Observe(seconds);
}

void GatewayMetrics::produce_finished(const std::string& topic, const std::string& outcome, double seconds) {
  produce_seconds_.Add({{"topic", topic}, {"outcome", outcome}}, latency_buckets()).Observe(seconds);
}

} // namespace fte::gateway
