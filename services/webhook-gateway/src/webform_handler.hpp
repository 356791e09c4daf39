#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "event_publisher.hpp"
#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"

namespace fte::gateway {

/// POST /webhooks/webform: validates the submission, publishes one
/// fte.webform.submission.received.v1 event keyed by the lower-cased email,
/// and answers 202 only once the broker has acknowledged it. A delivery that
/// failed or whose outcome is unknown answers 503 with Retry-After, so the
/// sender retries; with the same Idempotency-Key the retry is the same event.
class WebformHandler {
public:
  WebformHandler(std::string topic, const EventPublisher& publisher, Logger logger);

  [[nodiscard]] boost::asio::awaitable<http::Response> handle(http::Request request) const;

  static constexpr std::string_view kEventType = "fte.webform.submission.received.v1";
  static constexpr std::string_view kSource = kGatewaySource;

private:
  std::string topic_;
  const EventPublisher& publisher_;
  Logger logger_;
};

} // namespace fte::gateway
