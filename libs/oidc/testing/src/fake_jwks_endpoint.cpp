#include "fte/oidc/testing/fake_jwks_endpoint.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fte::oidc::testing {

namespace bhttp = boost::beast::http;

FakeJwksEndpoint::FakeJwksEndpoint() {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  server_ = std::make_unique<http::Server>(
      io_.get_executor(), options,
      [this](http::Request request) -> boost::asio::awaitable<http::Response> {
        ++hits_;
        std::string body;
        std::string cache_control;
        int status = 200;
        std::chrono::milliseconds delay{0};
        {
          const std::lock_guard lock(mutex_);
          body = body_;
          cache_control = cache_control_;
          status = status_;
          delay = delay_;
        }
        if (delay > std::chrono::milliseconds(0)) {
          boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
          co_await timer.async_wait(boost::asio::use_awaitable);
        }
        http::Response response{static_cast<http::Status>(status), request.version()};
        response.set(bhttp::field::content_type, "application/json; charset=UTF-8");
        if (!cache_control.empty()) response.set(bhttp::field::cache_control, cache_control);
        response.body() = body;
        response.prepare_payload();
        co_return response;
      },
      Logger::to_stderr("fake-jwks", spdlog::level::warn));
  server_->start();
  thread_ = std::thread([this] { io_.run(); });
}

FakeJwksEndpoint::~FakeJwksEndpoint() {
  server_->stop();
  io_.stop();
  thread_.join();
}

void FakeJwksEndpoint::serve(std::string body, std::string cache_control, int status) {
  const std::lock_guard lock(mutex_);
  body_ = std::move(body);
  cache_control_ = std::move(cache_control);
  status_ = status;
}

void FakeJwksEndpoint::delay(std::chrono::milliseconds value) {
  const std::lock_guard lock(mutex_);
  delay_ = value;
}

std::string FakeJwksEndpoint::url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port()) + "/oauth2/v3/certs";
}

} // namespace fte::oidc::testing
