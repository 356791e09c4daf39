#pragma once

// The gateway's public listener as main.cpp wires it (producer, handlers,
// router, HTTP server on a loopback port of its own), for tests that go
// through real HTTP. The Twilio and Gmail routes are configured as the test
// says; by default the Gmail route is not.
#include <cstdint>
#include <string_view>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <prometheus/registry.h>

#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "gateway_metrics.hpp"
#include "gmail_push_handler.hpp"
#include "router.hpp"
#include "twilio_handler.hpp"
#include "webform_handler.hpp"

namespace fte::gateway::test_support {

inline constexpr std::size_t kBodyLimit = 64 * 1024;

class TestGateway {
public:
  /// `gmail_keys` may be null only when `gmail` is not configured.
  TestGateway(kafka::ProducerOptions producer_options, TwilioHandler::Options twilio,
              GmailPushHandler::Options gmail = {}, oidc::JwksCache* gmail_keys = nullptr);
  ~TestGateway();
  TestGateway(const TestGateway&) = delete;
  TestGateway& operator=(const TestGateway&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  [[nodiscard]] kafka::Producer& producer() { return producer_; }

  /// Loopback, a free port, the gateway's default body limit.
  [[nodiscard]] static http::ServerOptions server_options();

private:
  kafka::Producer producer_;
  prometheus::Registry registry_;
  GatewayMetrics metrics_;
  WebformHandler webform_;
  GmailPushHandler gmail_;
  TwilioHandler twilio_;
  Router router_;
  boost::asio::io_context io_;
  http::Server server_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

} // namespace fte::gateway::test_support
