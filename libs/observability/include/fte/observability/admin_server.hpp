#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/http/documented_answer.hpp"
#include "fte/http/server.hpp"

namespace prometheus {
class Gauge;
template <typename T> class Family;
class Registry;
} // namespace prometheus

namespace fte::observability {

/// The admin listener every fte process mounts: `GET /healthz` (the process
/// is alive), `GET /readyz` (every readiness check passes; 503 with the
/// failing checks named otherwise), `GET /metrics` (Prometheus text format of
/// the registry, plus `fte_ready` and `fte_readiness_check{check}` evaluated at
/// the scrape, so alerts see readiness without kube-state-metrics). It runs on its own thread so a busy service still
/// answers its probes.
class AdminServer {
public:
  using ReadinessCheck = std::function<bool()>;

  AdminServer(http::ServerOptions options, std::shared_ptr<prometheus::Registry> registry, Logger logger);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// Adds a named check to /readyz; callable at any time, from any thread.
  void add_readiness_check(std::string name, ReadinessCheck check);

  /// Binds and serves. @throws boost::system::system_error if it cannot bind.
  void start();
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept { return server_.port(); }

  /// FTE_ADMIN_ADDR, defaulting to `default_address` (e.g. "0.0.0.0:9100").
  /// @throws ConfigError
  static http::ServerOptions options_from_env(const Environment& env, std::string_view default_address);

  /// Every answer the admin listener gives (proto/openapi.yaml, tag `admin`
  /// and `x-fte-listener-answers.admin`); its unit test provokes each and
  /// compares the list with the document. HEAD answers like GET.
  [[nodiscard]] static std::span<const http::DocumentedAnswer> answers();

private:
  http::Response handle(const http::Request& request);
  /// Runs every check; the checks by name and whether all passed.
  std::pair<nlohmann::json, bool> evaluate_checks();

  boost::asio::io_context io_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* ready_ = nullptr;
  prometheus::Family<prometheus::Gauge>* readiness_checks_ = nullptr;
  Logger logger_;
  std::mutex checks_mutex_;
  std::vector<std::pair<std::string, ReadinessCheck>> checks_;
  http::Server server_;
  std::thread thread_;
};

} // namespace fte::observability
