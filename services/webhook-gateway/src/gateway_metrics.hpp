#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace fte::gateway {

/// The gateway's Prometheus metrics: request counts and latency by route and
/// status, requests in flight, and Kafka produce latency.
class GatewayMetrics {
public:
  explicit GatewayMetrics(prometheus::Registry& registry);

  void request_finished(const std::string& route, const std::string& method, int status, double seconds);
  void produce_finished(const std::string& topic, const std::string& outcome, double seconds);
  prometheus::Gauge& in_flight() { return in_flight_; }

private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Family<prometheus::Histogram>& produce_seconds_;
  prometheus::Gauge& in_flight_;
};

} // namespace fte::gateway
