#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/common/signals.hpp"
#include "fte/observability/admin_server.hpp"

namespace prometheus {
class Registry;
}

namespace fte::runtime {

/// What every fte process starts with, in this order: the signal watcher
/// (before any thread exists, so only it receives SIGTERM), configuration,
/// the JSON logger, the metrics registry and the admin listener. Components
/// the service adds are stopped in reverse order by the service itself.
class Service {
public:
  /// @throws ConfigError
  Service(std::string name, std::string_view default_admin_address);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const Environment& env() const noexcept { return env_; }
  [[nodiscard]] const Logger& logger() const noexcept { return logger_; }
  [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const noexcept { return registry_; }
  [[nodiscard]] observability::AdminServer& admin() noexcept { return *admin_; }

  /// Runs `action` on the signal thread when SIGTERM or SIGINT arrives
  /// (after shutdown_requested() turns true). Register before start().
  void on_shutdown(std::function<void()> action);
  /// Starts the admin listener.
  void start();
  /// Blocks until SIGTERM/SIGINT.
  void wait_for_shutdown();
  [[nodiscard]] bool shutdown_requested() const;

  /// Runs `body` and turns what escapes it into an exit code and a log line:
  /// a configuration error exits 2, anything else 1.
  static int main(const std::string& name, std::string_view default_admin_address,
                  const std::function<int(Service&)>& body);

private:
  void signal(int signal);

  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable shutdown_cv_;
  bool shutdown_ = false;
  std::vector<std::function<void()>> shutdown_actions_;
  SignalWatcher signals_;
  Environment env_;
  Logger logger_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<observability::AdminServer> admin_;
};

} // namespace fte::runtime
