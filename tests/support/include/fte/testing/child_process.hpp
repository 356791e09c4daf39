#pragma once

#include <string>

#include "fte/common/child_process.hpp"

namespace fte::testing {

using ChildProcess = fte::ChildProcess;

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
