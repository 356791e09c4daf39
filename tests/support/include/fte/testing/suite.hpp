#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/kafka/topics.hpp"
#include "fte/testing/child_process.hpp"
#include "fte/testing/stack.hpp"

namespace fte::testing {

/// A free TCP port on 127.0.0.1 (bound, read and released).
[[nodiscard]] std::uint16_t free_port();

struct HttpAnswer {
  int status = 0; ///< 0 when the connection failed
  std::string body;
  std::map<std::string, std::string> headers;
  [[nodiscard]] nlohmann::json json() const;
};

/// One HTTP/1.1 request on a fresh connection to 127.0.0.1:port, bounded by
/// `timeout`.
HttpAnswer http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body = {}, const std::map<std::string, std::string>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(15));

/// The whole suite for one test: its own topics (a random FTE_TOPIC_PREFIX),
/// its own migrated database, its own consumer groups, and the four services
/// as real processes on free ports. Everything is torn down at the end.
class Suite {
public:
  static constexpr const char* kServices[] = {"webhook-gateway", "channel-normalizer", "agent-worker", "escalation"};

  /// `extra_env` goes to every service (e.g. FTE_PRODUCE_TIMEOUT_MS).
  explicit Suite(std::map<std::string, std::string> extra_env = {});
  ~Suite();
  Suite(const Suite&) = delete;
  Suite& operator=(const Suite&) = delete;

  /// Starts (or restarts) one service and waits until /readyz answers 200.
  /// `service#N` starts another instance of `service` (same group, its own
  /// admin port), e.g. a second agent-worker joining the group.
  void start(const std::string& service, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// SIGKILL.
  void kill(const std::string& service);
  /// Sets a variable for the services started from now on (a restart with
  /// a feature turned on, for instance).
  void set_env(const std::string& name, const std::string& value) { env_[name] = value; }
  /// SIGTERM and wait; returns the exit status.
  int stop(const std::string& service, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  [[nodiscard]] const StackAddresses& stack() const noexcept { return stack_; }
  [[nodiscard]] const kafka::TopicNames& topics() const noexcept { return topics_; }
  [[nodiscard]] const std::string& database_url() const noexcept { return database_->url(); }
  [[nodiscard]] std::uint16_t gateway_port() const noexcept { return gateway_port_; }
  [[nodiscard]] std::uint16_t escalation_port() const noexcept { return escalation_port_; }
  [[nodiscard]] std::uint16_t admin_port(const std::string& service) const { return admin_ports_.at(service); }
  [[nodiscard]] std::string group(const std::string& service) const { return prefix_ + "fte." + service; }
  /// Waits until every consumer group has committed to the end of its
  /// input topic: nothing is left to process (no fixed sleep).
  [[nodiscard]] bool wait_until_drained(std::chrono::milliseconds timeout);
  /// The last lines each service logged, for failure messages.
  [[nodiscard]] std::string logs() const;

  /// POST /webhooks/webform with a JSON body.
  HttpAnswer submit(const nlohmann::json& form, const std::string& idempotency_key = {});

  /// Runs a query returning one number.
  [[nodiscard]] long count(const std::string& sql) const;

private:
  StackAddresses stack_;
  std::string prefix_;
  kafka::TopicNames topics_;
  std::unique_ptr<ScratchDatabase> database_;
  std::map<std::string, std::string> env_;
  std::uint16_t gateway_port_ = 0;
  std::uint16_t escalation_port_ = 0;
  std::map<std::string, std::uint16_t> admin_ports_;
  std::map<std::string, std::unique_ptr<ChildProcess>> processes_;
  std::map<std::string, int> starts_;
};

/// Stops or starts the local stack's PostgreSQL with the command that
/// deploy/local/fte-local test exports (FTE_PG_STOP_COMMAND,
/// FTE_PG_START_COMMAND). @throws when the variable is unset or it fails.
void run_stack_command(const std::string& variable);

/// Where a service binary is in the build tree.
[[nodiscard]] std::string service_binary(const std::string& service);

} // namespace fte::testing
