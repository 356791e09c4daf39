#include "fte/observability/admin_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace fte::observability {

namespace {

constexpr std::string_view kJson = "application/json";

// clang-format off
constexpr http::DocumentedAnswer kAnswers[] = {
    {"/healthz", "GET", 200, "", kJson},
    {"/readyz", "GET", 200, "", kJson},
    {"/readyz", "GET", 503, "", kJson},
    {"/metrics", "GET", 200, "", "text/plain"},
    {http::kAnyRoute, http::kAnyRoute, 400, "malformed_http", kJson},
    {http::kAnyRoute, http::kAnyRoute, 404, "not_found", kJson},
    {http::kAnyRoute, http::kAnyRoute, 405, "method_not_allowed", kJson, "Allow"},
    {http::kAnyRoute, http::kAnyRoute, 413, "body_too_large", kJson},
    {http::kAnyRoute, http::kAnyRoute, 500, "internal_error", kJson},
};
// clang-format on

} // namespace

std::span<const http::DocumentedAnswer> AdminServer::answers() { return kAnswers; }

AdminServer::AdminServer(http::ServerOptions options, std::shared_ptr<prometheus::Registry> registry, Logger logger)
    : registry_(std::move(registry)), logger_(std::move(logger)),
      server_(
          io_.get_executor(), std::move(options),
          [this](http::Request request) -> boost::asio::awaitable<http::Response> { co_return handle(request); },
          logger_) {
  if (registry_) {
    ready_ = &prometheus::BuildGauge()
                  .Name("fte_ready")
                  .Help("1 when every readiness check passes at this scrape (what /readyz answers 200 for), else 0")
                  .Register(*registry_);
    readiness_checks_ = &prometheus::BuildGauge()
                             .Name("fte_readiness_check")
                             .Help("Each readiness check at this scrape, 1 passing, 0 failing, by check")
                             .Register(*registry_);
  }
}

AdminServer::~AdminServer() { stop(); }

http::ServerOptions AdminServer::options_from_env(const Environment& env, std::string_view default_address) {
  auto options = http::ServerOptions::from_address(env.get_or("FTE_ADMIN_ADDR", default_address), "FTE_ADMIN_ADDR");
  options.read_timeout = std::chrono::seconds(5);
  options.body_limit = 4096;
  return options;
}

void AdminServer::add_readiness_check(std::string name, ReadinessCheck check) {
  std::lock_guard lock(checks_mutex_);
  checks_.emplace_back(std::move(name), std::move(check));
}

void AdminServer::start() {
  server_.start();
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
}

void AdminServer::stop() {
  if (!thread_.joinable()) {
    return;
  }
  server_.stop();
  io_.stop();
  thread_.join();
}

http::Response AdminServer::handle(const http::Request& request) {
  namespace bhttp = boost::beast::http;
  if (request.method() != bhttp::verb::get && request.method() != bhttp::verb::head) {
    auto response = http::error_response(http::Status::method_not_allowed, "method_not_allowed", "use GET");
    response.set(bhttp::field::allow, "GET, HEAD"); // RFC 9110 section 15.5.6
    return response;
  }
  const auto target = std::string_view(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    return http::json_response(http::Status::ok, {{"status", "ok"}});
  }
  if (path == "/readyz") {
    const auto [checks, ready] = evaluate_checks();
    return http::json_response(ready ? http::Status::ok : http::Status::service_unavailable,
                               {{"status", ready ? "ok" : "unavailable"}, {"checks", checks}});
  }
  if (path == "/metrics") {
    http::Response response{http::Status::ok, request.version()};
    response.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    if (ready_ != nullptr) {
      const auto [checks, ready] = evaluate_checks();
      ready_->Add({}).Set(ready ? 1 : 0);
      for (const auto& [name, ok] : checks.items())
        readiness_checks_->Add({{"check", name}}).Set(ok.get<bool>() ? 1 : 0);
    }
    response.body() = prometheus::TextSerializer().Serialize(registry_->Collect());
    response.prepare_payload();
    return response;
  }
  return http::error_response(http::Status::not_found, "not_found", "no such endpoint");
}

std::pair<nlohmann::json, bool> AdminServer::evaluate_checks() {
  nlohmann::json checks = nlohmann::json::object();
  bool ready = true;
  std::lock_guard lock(checks_mutex_);
  for (const auto& [name, check] : checks_) {
    bool ok = false;
    try {
      ok = check();
    } catch (const std::exception& e) {
      logger_.warn("readiness check threw", {{"check", name}, {"error", e.what()}});
    }
    checks[name] = ok;
    ready = ready && ok;
  }
  return {std::move(checks), ready};
}

} // namespace fte::observability
