#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "fte/http/server.hpp"

namespace fte::oidc::testing {

/// Google's JWKS endpoint played by a real HTTP server on a loopback port,
/// on its own thread. The document, Cache-Control, status and a delay can
/// be changed while it runs; it counts the requests it answered.
class FakeJwksEndpoint {
public:
  FakeJwksEndpoint();
  ~FakeJwksEndpoint();
  FakeJwksEndpoint(const FakeJwksEndpoint&) = delete;
  FakeJwksEndpoint& operator=(const FakeJwksEndpoint&) = delete;

  void serve(std::string body, std::string cache_control = "public, max-age=300", int status = 200);
  void delay(std::chrono::milliseconds value);
  [[nodiscard]] int hits() const { return hits_.load(); }
  [[nodiscard]] std::string url() const;

private:
  boost::asio::io_context io_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::atomic<int> hits_{0};
  std::mutex mutex_;
  std::string body_;
  std::string cache_control_;
  int status_ = 200;
  std::chrono::milliseconds delay_{0};
};

} // namespace fte::oidc::testing
