#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace fte::testing {

/// What a command printed, stdout and stderr apart (stdout carries the
/// JSON, stderr the one-line refusals), and how it exited.
struct CommandResult {
  int exit_code = -1; ///< -1 when it did not exit normally
  std::string out;
  std::string err;
  /// stdout as JSON. @throws nlohmann::json::parse_error
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(out); }
};

/// Runs `binary args` through the shell with `env` set for it alone (each
/// value single-quoted), as an operator would type it; `args` is passed
/// as written, so the caller quotes what needs quoting.
CommandResult run_command(const std::string& binary, const std::string& args,
                          const std::map<std::string, std::string>& env = {});

/// `text` single-quoted for the shell.
[[nodiscard]] std::string shell_quote(const std::string& text);

} // namespace fte::testing
