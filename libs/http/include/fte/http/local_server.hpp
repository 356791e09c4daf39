#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "fte/http/server.hpp"

namespace fte::http {

/// For tests: a real HTTP server on a loopback port, answering from a
/// handler on a thread of its own.
class LocalServer {
public:
  explicit LocalServer(Handler handler) {
    ServerOptions options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<Server>(io_.get_executor(), options, std::move(handler),
                                       Logger::to_stderr("test", spdlog::level::warn));
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~LocalServer() {
    server_->stop();
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }

private:
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

} // namespace fte::http
