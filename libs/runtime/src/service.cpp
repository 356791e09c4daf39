#include "fte/runtime/service.hpp"

#include <iostream>

#include <prometheus/registry.h>

namespace fte::runtime {

Service::Service(std::string name, std::string_view default_admin_address)
    : name_(std::move(name)), signals_([this](int s) { signal(s); }), env_(Environment::from_process()),
      logger_(Logger::to_stderr(name_, Logger::parse_level(env_.get_or("FTE_LOG_LEVEL", "info")))),
      registry_(std::make_shared<prometheus::Registry>()),
      admin_(std::make_unique<observability::AdminServer>(
          observability::AdminServer::options_from_env(env_, default_admin_address), registry_, logger_)) {
  admin_->add_readiness_check("running", [this] { return !shutdown_requested(); });
}

Service::~Service() = default;

void Service::on_shutdown(std::function<void()> action) {
  std::lock_guard lock(mutex_);
  shutdown_actions_.push_back(std::move(action));
}

void Service::start() { admin_->start(); }

void Service::signal(int signal) {
  std::vector<std::function<void()>> actions;
  {
    std::lock_guard lock(mutex_);
    if (shutdown_) return;
    shutdown_ = true;
    actions = shutdown_actions_;
  }
  logger_.info("shutdown requested", {{"signal", signal}});
  for (const auto& action : actions)
    action();
  shutdown_cv_.notify_all();
}

void Service::wait_for_shutdown() {
  std::unique_lock lock(mutex_);
  shutdown_cv_.wait(lock, [this] { return shutdown_; });
}

bool Service::shutdown_requested() const {
  std::lock_guard lock(mutex_);
  return shutdown_;
}

int Service::main(const std::string& name, std::string_view default_admin_address,
                  const std::function<int(Service&)>& body) {
  std::unique_ptr<Service> service;
  try {
    service = std::make_unique<Service>(name, default_admin_address);
  } catch (const std::exception& e) {
    std::cerr << R"({"level":"critical","service":")" << name << R"(","msg":"cannot start","error":)"
              << nlohmann::json(e.what()).dump() << "}\n";
    return 2;
  }
  try {
    const int code = body(*service);
    service->logger().info("stopped", {{"exit_code", code}});
    return code;
  } catch (const ConfigError& e) {
    service->logger().log(spdlog::level::critical, "configuration error", {{"error", e.what()}});
    return 2;
  } catch (const std::exception& e) {
    service->logger().log(spdlog::level::critical, "fatal error", {{"error", e.what()}});
    return 1;
  }
}

} // namespace fte::runtime
