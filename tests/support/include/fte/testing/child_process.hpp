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
  /// The same with stderr apart in `stderr_path` and stdin from /dev/null
  /// (a command whose stdout is data, that must not find a terminal).
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& extra_env, std::string log_path,
               const std::string& stderr_path);
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
  void spawn(const std::string& program, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& extra_env, const std::string* stderr_path);
  bool reap(int& status, bool block);

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_status_ = -1;
  std::string log_path_;
};

/// What a command printed and how it exited.
struct CommandResult {
  int exit_code = -1; ///< -1: killed after the timeout
  std::string out;
  std::string err;
};

/// Runs `program` with `args` (no shell) and `extra_env` added to the
/// environment, stdin from /dev/null, until it exits or `timeout` passes.
CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& extra_env,
                          std::chrono::milliseconds timeout = std::chrono::seconds(120));

} // namespace fte::testing
