#pragma once

#include <atomic>

#include <boost/asio/awaitable.hpp>

#include "fte/http/server.hpp"
#include "gateway_metrics.hpp"
#include "gmail_push_handler.hpp"
#include "webform_handler.hpp"

namespace fte::gateway {

/// Maps the public listener's routes to handlers and records each request's
/// metrics. Unknown paths answer 404, known paths with the wrong method 405.
class Router {
public:
  Router(const WebformHandler& webform, const GmailPushHandler& gmail, GatewayMetrics& metrics);

  [[nodiscard]] boost::asio::awaitable<http::Response> route(http::Request request);

  /// Requests being handled right now; shutdown waits for this to reach 0.
  [[nodiscard]] int in_flight() const noexcept { return in_flight_.load(); }

private:
  const WebformHandler& webform_;
  const GmailPushHandler& gmail_;
  GatewayMetrics& metrics_;
  std::atomic<int> in_flight_{0};
};

} // namespace fte::gateway
