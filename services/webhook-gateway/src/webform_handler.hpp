#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "gateway_metrics.hpp"

namespace fte::gateway {

/// POST /webhooks/webform: validates the submission, publishes one
/// fte.webform.submission.received.v1 event keyed by the lower-cased email,
/// and answers 202 only once the broker has acknowledged it. A delivery that
/// failed or whose outcome is unknown answers 503 with Retry-After, so the
/// sender retries; with the same Idempotency-Key the retry is the same event.
///
/// A browser's own form post (form-encoded, Accept preferring text/html: the
/// support page without script) gets the same answer as a small HTML page
/// for the person who sent it, with the same status (webform_page.hpp).
class WebformHandler {
public:
  struct Options {
    std::string topic;
    int retry_after_seconds = 1;
  };

  WebformHandler(Options options, kafka::Producer& producer, GatewayMetrics& metrics, Logger logger);

  [[nodiscard]] boost::asio::awaitable<http::Response> handle(http::Request request) const;

  static constexpr std::string_view kEventType = "fte.webform.submission.received.v1";
  static constexpr std::string_view kSource = "/fte/webhook-gateway";

private:
  /// The answer in JSON, whoever asked.
  [[nodiscard]] boost::asio::awaitable<http::Response> answer(http::Request request) const;

  Options options_;
  kafka::Producer& producer_;
  GatewayMetrics& metrics_;
  Logger logger_;
};

} // namespace fte::gateway
