#include "fte/testing/scripted_http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

namespace fte::testing {

namespace bhttp = boost::beast::http;

struct ScriptedHttpServer::State {
  Script script;
  mutable std::mutex mutex;
  std::vector<Seen> seen;
  boost::asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;
};

ScriptedHttpServer::ScriptedHttpServer(Script script, std::uint16_t port) : state_(std::make_unique<State>()) {
  state_->script = std::move(script);
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = port;
  auto* state = state_.get();
  state_->server = std::make_unique<http::Server>(
      state_->io.get_executor(), options,
      [state](http::Request request) -> boost::asio::awaitable<http::Response> {
        Seen seen{std::string(request.method_string()), std::string(request.target()),
                  std::string(request[bhttp::field::authorization]), request.body()};
        int number = 0;
        {
          std::lock_guard lock(state->mutex);
          state->seen.push_back(seen);
          number = static_cast<int>(state->seen.size());
        }
        const auto answer = state->script(number, seen);
        if (answer.delay.count() > 0) {
          boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, answer.delay);
          co_await timer.async_wait(boost::asio::use_awaitable);
        }
        http::Response response{static_cast<http::Status>(answer.status), request.version()};
        response.set(bhttp::field::content_type, "application/json");
        for (const auto& [name, value] : answer.headers)
          response.set(name, value);
        response.body() = answer.body;
        response.prepare_payload();
        co_return response;
      },
      Logger::to_stderr("scripted-http", spdlog::level::warn));
  state_->server->start();
  state_->thread = std::thread([state] { state->io.run(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  state_->server->stop();
  state_->io.stop();
  state_->thread.join();
}

std::uint16_t ScriptedHttpServer::port() const noexcept { return state_->server->port(); }

std::string ScriptedHttpServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port()); }

std::vector<ScriptedHttpServer::Seen> ScriptedHttpServer::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->seen;
}

int ScriptedHttpServer::count() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<int>(state_->seen.size());
}

ScriptedHttpServer::Answer twilio_created(const std::string& sid, const std::string& status) {
  return {201, nlohmann::json{{"sid", sid}, {"status", status}, {"api_version", "2010-04-01"}}.dump(), {}, {}};
}

ScriptedHttpServer::Answer twilio_error(unsigned status, int code, const std::string& message) {
  return {status,
          nlohmann::json{{"code", code},
                         {"message", message},
                         {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)},
                         {"status", status}}
              .dump(),
          {},
          {}};
}

} // namespace fte::testing
