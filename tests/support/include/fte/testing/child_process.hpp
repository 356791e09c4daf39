#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <sys/types.h>

namespace fte::testing {

/// A process started by a test (a service, a helper consumer), killed with
/// SIGKILL if the test ends without stopping it. stdout and stderr go to
/// `log_path`, which failures print.
class ChildProcess {
public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& extra_env, std::string log_path);
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

/// How a command run to completion ended and what it printed.
struct CommandResult {
  int exit_code = -1; ///< -1 when a signal ended it
  std::string out;
  std::string err;
};

/// Runs `command` through /bin/sh and waits for it; stdout and stderr apart
/// (stdout carries a CLI's data, stderr its one-line refusal).
CommandResult run_command(const std::string& command);

} // namespace fte::testing
