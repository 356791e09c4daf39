#include "fte/common/child_process.hpp"

#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace fte {

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& extra_env, std::string log_path,
                           bool inherit_environment)
    : log_path_(std::move(log_path)) {
  std::map<std::string, std::string> env;
  for (char** e = environ; inherit_environment && *e != nullptr; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra_env)
    env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env)
    env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // The child must see SIGTERM even though its parent may block it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  const int rc = posix_spawn(&pid_, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw std::runtime_error("could not start " + program + ": " + std::strerror(rc));
  }
}

ChildProcess::~ChildProcess() {
  if (!exited_ && pid_ > 0) {
    kill_hard();
  }
}

bool ChildProcess::reap(int& status, bool block) {
  if (exited_) {
    status = exit_status_;
    return true;
  }
  int raw = 0;
  const pid_t r = waitpid(pid_, &raw, block ? 0 : WNOHANG);
  if (r == pid_) {
    exited_ = true;
    exit_status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    status = exit_status_;
    return true;
  }
  return false;
}

bool ChildProcess::running() {
  int status = 0;
  return !reap(status, false);
}

void ChildProcess::kill_hard() {
  if (exited_) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  reap(status, true);
}

int ChildProcess::terminate(std::chrono::milliseconds timeout) {
  int status = 0;
  if (reap(status, false)) return status;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(status, false)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill_hard();
  return -1;
}

std::string ChildProcess::log_tail(std::size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const auto text = buffer.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

} // namespace fte
