#pragma once

#include <stdexcept>

#include <CLI/CLI.hpp>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"

namespace fte::cli {

/// Exit codes: 0 success, 1 failure, 2 usage, 3 a topic exists with fewer
/// partitions than the contract wants (`fte topics`) or, asked for with
/// --exit-code, a sandbox decided differently (`fte replay diff`, as `git
/// diff --exit-code`), 4 a change refused because it does not fit the data
/// (nothing was changed).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFewerPartitions = 3;
inline constexpr int kExitDifferences = 3;
inline constexpr int kExitRefused = 4;

/// Input the command line parser cannot judge (an identifier that does not
/// normalise, a time range the wrong way round, an unknown topic): main()
/// prints it on one line and exits with kExitUsage; nothing was changed.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What every command needs: the environment (flags already applied) and a
/// logger for machine-readable progress on stderr. Human output goes to stdout.
struct Context {
  Environment env;
  Logger logger;
};

/// FTE_DATABASE_URL, or the local stack's PostgreSQL.
[[nodiscard]] inline std::string database_url(const Context& context) {
  return context.env.get_or("FTE_DATABASE_URL", "postgresql://fte@127.0.0.1:15432/fte");
}

/// The whole of a file the operator named (`-`: standard input).
/// @throws UsageError when it cannot be read
[[nodiscard]] std::string read_input(const std::string& path);

/// Registers `fte migrate`; `run` is set to what executes it.
void add_migrate_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte topics create|describe`.
void add_topics_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte trace <correlation-id>`.
void add_trace_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `diff` under the `fte replay` command `replay`.
void add_replay_diff_command(CLI::App& replay, std::function<int(const Context&)>& run);
/// Registers `fte customers link|unlink|show`.
void add_customers_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte replay` (sandbox or live) with `rm` and `list`.
void add_replay_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte gmail watch|stop|status`.
void add_gmail_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte lag`.
void add_lag_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte dlq list|show|redrive`.
void add_dlq_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte kb` (articles, examples, calibration).
void add_kb_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte token create|list|revoke`.
void add_token_command(CLI::App& app, std::function<int(const Context&)>& run);
/// Registers `fte eval FILE.csv`.
void add_eval_command(CLI::App& app, std::function<int(const Context&)>& run);

} // namespace fte::cli
