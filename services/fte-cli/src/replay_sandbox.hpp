#pragma once

// A replay sandbox (issue 9, ADR 0013): the pipeline's consumers run on a
// copy of the selected records, under their own topic prefix, consumer
// groups and scratch database, with outbound sending off.

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "commands.hpp"
#include "fte/common/child_process.hpp"
#include "fte/kafka/client_config.hpp"
#include "replay_selection.hpp"

namespace fte::cli {

/// The services a sandbox runs (the gateway takes no part: records are
/// copied in behind it).
inline constexpr std::array<std::string_view, 3> kSandboxServices = {"channel-normalizer", "agent-worker",
                                                                     "escalation"};

/// Where a sandbox lives, all derived from its name and the live deployment.
struct SandboxNames {
  std::string name;         ///< [a-z0-9_-]{1,24}
  std::string topic_prefix; ///< <live prefix>fte.sandbox.<name>.
  std::string database;     ///< <live database>_sbx_<name with _ for ->
  std::string database_url; ///< the live URL naming that database

  /// @throws UsageError for a name outside [a-z0-9_-]{1,24}.
  [[nodiscard]] static SandboxNames derive(const std::string& name, const std::string& live_topic_prefix,
                                           const std::string& live_database_url);
  /// The consumer group of one of kSandboxServices.
  [[nodiscard]] std::string group(std::string_view service) const;
  [[nodiscard]] std::vector<std::string> groups() const;
};

/// The pipeline stage a replay feeds: the normalizer's channel topics, the
/// agent's fte.tickets.incoming, or the escalation service's fte.escalations.
enum class ReplayStage { channels, tickets, escalations };

/// The stage a contract topic feeds.
[[nodiscard]] ReplayStage stage_of(std::string_view contract_topic);

/// What a sandbox's database state is copied from.
struct SandboxState {
  ReplayStage stage = ReplayStage::tickets;
  std::set<std::string> customer_ids;
  std::chrono::system_clock::time_point first_record; ///< the earliest selected record's time
  std::chrono::system_clock::time_point last_record;  ///< the latest
};

/// Creates the scratch database and applies the migrations this fte carries.
/// @throws UsageError when it exists already; pqxx errors (no CREATEDB
/// privilege) as they come, with what to do.
void create_sandbox_database(pqxx::connection& live, const SandboxNames& names, const Logger& logger);

/// Copies the live knowledge base (same ids) and the customers' rows the
/// replayed stage finds in place rather than makes (customers, identifiers,
/// conversations, tickets; the agent's messages for the escalation stage),
/// as they were before the replayed records, into the sandbox database (the
/// knowledge base only when asked: a re-run keeps the sandbox's, edits and
/// all). Returns rows copied per table.
std::map<std::string, long> copy_live_state(pqxx::connection& live, pqxx::connection& sandbox,
                                            const SandboxState& state, bool with_knowledge_base);

/// Creates the sandbox's seven topics with the live topics' partition counts,
/// replication and retention. @throws AdminError
void create_sandbox_topics(const kafka::ClientSettings& settings, const Logger& logger, const std::string& live_prefix,
                           const SandboxNames& names);

/// Produces each record to its sandbox topic, in the same partition, with
/// its key, value and headers plus `replay.id`. Returns how many.
/// @throws std::runtime_error when the broker refuses one.
std::int64_t copy_records_into_sandbox(const Environment& env, const Logger& logger,
                                       const std::vector<SelectedRecord>& records, const SandboxNames& names,
                                       const std::string& replay_id, Progress& progress);

/// Where the service binaries are: FTE_BIN_DIR, else beside this `fte`
/// (an install) or in the build tree next to it, else PATH.
/// @throws UsageError naming where it looked.
[[nodiscard]] std::string find_service_binary(std::string_view service, const Environment& env);

/// The sandbox's services as child processes, stopped (SIGTERM) when this
/// goes away. Their environment is built, not inherited: Kafka and the
/// agent's decision settings pass, provider secrets do not, and the reply
/// dispatcher is off. The language model's settings (FTE_LLM*) pass only
/// with `ask_model` (`fte replay --ask-model`): a replay asks the model
/// again, at its cost, only when told; otherwise the sandbox decides from
/// retrieval, and `fte replay diff` shows where the live model's answers
/// (stored in messages.agent_output) differ.
class SandboxServices {
public:
  SandboxServices(const Environment& env, const SandboxNames& names, const std::filesystem::path& log_dir,
                  bool ask_model = false);
  ~SandboxServices();
  SandboxServices(const SandboxServices&) = delete;
  SandboxServices& operator=(const SandboxServices&) = delete;

  /// Names a service that exited, with the end of its log; empty if all run.
  [[nodiscard]] std::string exited();
  /// SIGTERM each (they drain and commit), waiting up to 30 s each.
  void stop();

private:
  std::vector<std::pair<std::string, std::unique_ptr<ChildProcess>>> children_;
};

/// Waits until every sandbox group has committed up to the end of every
/// partition of its input topics, twice in a row a poll apart (the agent's
/// escalations reach the escalation service in between).
/// @throws std::runtime_error on timeout (with what is still behind) or when
/// a service exits.
void wait_until_drained(const kafka::ClientSettings& settings, const SandboxNames& names, SandboxServices& services,
                        std::chrono::seconds timeout, bool terminal);

/// Readies a sandbox that has run for another run over the same records:
/// the records the pipeline wrote into the sandbox's topics (every topic but
/// `input_contract_topics`) are deleted, the groups forgotten, and the
/// database emptied of all but its knowledge base (kept as edited) and given
/// the customers' earlier state again. @throws AdminError, pqxx errors.
void reset_sandbox(pqxx::connection& live, const kafka::ClientSettings& settings, const Logger& logger,
                   const SandboxNames& names, const std::vector<std::string>& input_contract_topics,
                   const SandboxState& state);

/// Deletes the sandbox's topics, groups and database (what exists of them).
/// Returns what it removed, one line each.
std::vector<std::string> remove_sandbox(pqxx::connection& live, const kafka::ClientSettings& settings,
                                        const Logger& logger, const SandboxNames& names);

} // namespace fte::cli
