#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace fte {

/// A process fte starts (a test's service or helper consumer, the services of
/// a replay sandbox), killed with SIGKILL if its owner ends without stopping
/// it. stdout and stderr go to `log_path`, which failures print.
class ChildProcess {
public:
  /// The child gets this process's environment with `extra_env` over it,
  /// or, when `inherit_environment` is false, `extra_env` alone (a sandbox's
  /// services must not see the operator's provider secrets).
  /// @throws std::runtime_error when the program cannot be started.
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& extra_env, std::string log_path,
               bool inherit_environment = true);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// SIGKILL: no cleanup, no commit, no goodbye.
  void kill_hard();
  /// SIGTERM, then waits up to `timeout`; returns the exit status (or -1 if
  /// it had to be killed after the timeout).
  int terminate(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] const std::string& log_path() const noexcept { return log_path_; }
  /// The last `bytes` of the log, for failure messages.
  [[nodiscard]] std::string log_tail(std::size_t bytes = 4000) const;

private:
  bool reap(int& status, bool block);

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_status_ = -1;
  std::string log_path_;
};

} // namespace fte
