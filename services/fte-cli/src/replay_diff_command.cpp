// `fte replay diff <name>`: what a sandbox replay decided for each message
// against what the live run decided (ADR 0013). Both sides are read from
// the tables the services wrote; the sandbox's topics are read only to find
// messages it was given but has not decided yet.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>

#include "commands.hpp"
#include "decision_diff.hpp"
#include "decisions.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/dlq.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"
#include "selection.hpp"

namespace fte::cli {
namespace {

// The event type the agent-worker decides on (proto/, the normalizer's
// output); fte.tickets.incoming also carries delivery status updates.
constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";

// A sandbox that `fte replay rm` removed is gone; a name can then be reused.
constexpr const char* kFindSandboxSql = "SELECT id::text, status, database_name, topic_prefix, requested_by, "
                                        "(extract(epoch FROM requested_at) * 1000000)::bigint, error "
                                        "FROM replays WHERE target = 'sandbox' AND name = $1 AND status <> 'removed' "
                                        "ORDER BY requested_at DESC LIMIT 1";
constexpr const char* kSandboxNamesSql =
    "SELECT name FROM replays WHERE target = 'sandbox' AND status <> 'removed' ORDER BY name";

struct DiffFlags {
  std::string name;
  bool json = false;
  bool changed_only = false;
  bool exit_code = false;
  std::string output;
  int timeout_ms = 10'000;
};

struct Sandbox {
  std::string name;
  std::string replay_id;
  std::string status;
  std::string database_name;
  std::optional<std::string> topic_prefix;
  std::string requested_by;
  std::string requested_at;
  std::optional<std::string> error;
};

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

Sandbox find_sandbox(pqxx::connection& live, const std::string& name) {
  pqxx::read_transaction tx(live);
  const auto found = tx.exec_params(kFindSandboxSql, name);
  if (found.empty()) {
    std::string names;
    for (const auto& row : tx.exec(kSandboxNamesSql))
      names += (names.empty() ? "" : ", ") + row[0].as<std::string>();
    throw UsageError("no sandbox named " + name +
                     (names.empty() ? " (there is none: fte replay --name <name> makes one)"
                                    : " (sandboxes: " + names + "; fte replay list shows them)"));
  }
  const auto& row = found[0];
  Sandbox s{name,
            row[0].as<std::string>(),
            row[1].as<std::string>(),
            row[2].is_null() ? std::string() : row[2].as<std::string>(),
            optional_text(row[3]),
            row[4].as<std::string>(),
            format_rfc3339(std::chrono::system_clock::time_point(std::chrono::microseconds(row[5].as<std::int64_t>()))),
            optional_text(row[6])};
  if (s.database_name.empty()) {
    throw std::runtime_error("sandbox " + name + " (replay " + s.replay_id + ") has no database recorded in replays");
  }
  return s;
}

// What the sandbox's topics say it was given but its tables do not have:
// the messages it has not decided, and why when its DLQ knows.
struct Undecided {
  std::vector<Decision> pending;
  std::map<std::string, std::string> dlq_note; ///< by event id
};

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return text;
}

Undecided find_undecided(const Context& context, const Sandbox& sandbox, const std::set<std::string>& decided,
                         std::chrono::milliseconds timeout, std::vector<std::string>& notes) {
  Undecided out;
  if (!sandbox.topic_prefix) {
    notes.push_back("the replays row names no topic prefix: messages the sandbox has not decided are not listed");
    return out;
  }
  const auto topics = kafka::TopicNames::with_prefix(*sandbox.topic_prefix);
  const auto settings = kafka::ClientSettings::from_env(context.env, "fte-cli");
  try {
    const auto described =
        kafka::TopicAdmin(settings, context.logger, timeout).describe({topics.tickets_incoming, topics.dlq});
    if (described.size() != 2 || !described[0].exists) {
      notes.push_back("the sandbox's topic " + topics.tickets_incoming +
                      " does not exist: messages the sandbox has not decided are not listed");
      return out;
    }
    const bool has_dlq = described[1].exists;
    kafka::TopicReader reader(settings, context.logger, timeout);
    std::set<std::string> seen;
    reader.read_to_end(topics.tickets_incoming, std::nullopt, [&](const kafka::ConsumedRecord& record) {
      if (events::find_header(record.headers, events::header::kCeType) != kTicketMessageType) return;
      const auto parsed = events::parse_event(record.value, record.headers);
      const auto* event = std::get_if<events::CloudEvent>(&parsed);
      if (event == nullptr || decided.contains(event->id) || !seen.insert(event->id).second) return;
      Decision d;
      d.inbound.source_event_id = event->id;
      d.inbound.correlation_id = event->correlationid;
      d.inbound.customer_id = events::string_field(event->data, "customer_id", event->customerid);
      d.inbound.channel = events::string_field(event->data, "channel");
      d.inbound.stored_at =
          format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(record.timestamp_ms)));
      d.outcome = Outcome::pending;
      out.pending.push_back(std::move(d));
    });
    // A message the sandbox's agent-worker gave up on will never be
    // decided: say so rather than "did not finish".
    if (out.pending.empty() || !has_dlq) return out;
    reader.read_to_end(topics.dlq, std::nullopt, [&](const kafka::ConsumedRecord& record) {
      const auto parsed = events::parse_event(record.value, record.headers);
      const auto* event = std::get_if<events::CloudEvent>(&parsed);
      if (event == nullptr || !seen.contains(event->id)) return;
      out.dlq_note[event->id] =
          "in the sandbox's DLQ (" + events::find_header(record.headers, "dlq.reason").value_or("reason not recorded") +
          "): " +
          one_line(events::find_header(record.headers, kafka::dlq_header::kError).value_or("no error recorded"));
    });
  } catch (const kafka::AdminError& e) {
    notes.push_back("Kafka at " + settings.bootstrap + " is not answering (" + e.what() +
                    "): messages the sandbox has not decided are not listed");
  }
  return out;
}

nlohmann::json sandbox_json(const Sandbox& s) {
  return {{"name", s.name},
          {"replay_id", s.replay_id},
          {"status", s.status},
          {"database", s.database_name},
          {"topic_prefix", s.topic_prefix ? nlohmann::json(*s.topic_prefix) : nlohmann::json(nullptr)},
          {"requested_by", s.requested_by},
          {"requested_at", s.requested_at}};
}

pqxx::connection open_database(const std::string& url, const std::string& what) {
  try {
    return pqxx::connection(url);
  } catch (const pqxx::broken_connection& e) {
    throw std::runtime_error("cannot open " + what + ": " + one_line(e.what()));
  }
}

int replay_diff(const Context& context, const DiffFlags& flags) {
  const auto live_url = database_url(context);
  auto live = open_database(live_url, "the live database " + database_name_of(live_url));
  const auto sandbox = [&] {
    try {
      return find_sandbox(live, flags.name);
    } catch (const pqxx::undefined_table&) {
      throw std::runtime_error("the live database " + database_name_of(live_url) +
                               " has no replays table: it predates migration 0007 (fte migrate applies it)");
    }
  }();
  auto sandbox_db = open_database(with_database_name(live_url, sandbox.database_name),
                                  "the database " + sandbox.database_name + " of sandbox " + sandbox.name +
                                      " (fte replay rm " + sandbox.name + " cleans up a broken one)");

  std::vector<std::string> notes;
  if (sandbox.status == "running") {
    notes.push_back("the replay into sandbox " + sandbox.name +
                    " is still running: decisions not stored yet show as pending");
  } else if (sandbox.status == "failed") {
    notes.push_back("the replay into sandbox " + sandbox.name + " failed (" +
                    sandbox.error.value_or("no error recorded") + "): some messages may be missing");
  }

  auto sandbox_decisions = load_all_decisions(sandbox_db);
  std::set<std::string> decided;
  for (const auto& d : sandbox_decisions)
    decided.insert(d.inbound.source_event_id);
  auto undecided = find_undecided(context, sandbox, decided, std::chrono::milliseconds(flags.timeout_ms), notes);

  // The same messages as the live run stored them: a sandbox replay copies
  // records with their event ids, so a sandbox message has the live one's
  // source_event_id (ADR 0013).
  DecisionQuery live_query;
  live_query.source_event_ids.assign(decided.begin(), decided.end());
  for (auto& d : undecided.pending) {
    live_query.source_event_ids.push_back(d.inbound.source_event_id);
    sandbox_decisions.push_back(std::move(d));
  }
  auto report = compare_decisions(load_decisions(live, live_query), std::move(sandbox_decisions));
  for (auto& m : report.messages) {
    if (const auto it = undecided.dlq_note.find(m.source_event_id); it != undecided.dlq_note.end()) {
      m.sandbox_note = it->second;
    }
  }

  auto json = to_json(report, flags.changed_only);
  json["sandbox"] = sandbox_json(sandbox);
  json["live_database"] = database_name_of(live_url);
  json["notes"] = notes;
  if (!flags.output.empty()) {
    std::ofstream file(flags.output, std::ios::trunc);
    file << json.dump(2) << "\n";
    file.close();
    if (!file) throw std::runtime_error("cannot write the report to " + flags.output + ": " + std::strerror(errno));
  }
  if (flags.json) {
    std::cout << json.dump(2) << "\n";
  } else {
    std::cout << "sandbox " << sandbox.name << " (replay " << sandbox.replay_id << ", " << sandbox.status
              << ", database " << sandbox.database_name << ") against the live database " << database_name_of(live_url)
              << "\n\n";
    if (report.messages.empty()) std::cout << "the sandbox has stored no message\n";
    print_table(std::cout, report, flags.changed_only);
    if (!flags.output.empty()) std::cout << "report written to " << flags.output << "\n";
  }
  for (const auto& note : notes)
    std::cerr << "fte: note: " << note << "\n";
  return flags.exit_code && report.summary.any_difference() ? kExitDifferences : kExitOk;
}

} // namespace

void add_replay_diff_command(CLI::App& replay, std::function<int(const Context&)>& run) {
  auto* cmd = replay.add_subcommand(
      "diff", "Compare, per message, what a sandbox replay decided with what the live run decided");
  auto flags = std::make_shared<DiffFlags>();
  cmd->add_option("name", flags->name, "The sandbox's name (fte replay --name)")->required();
  cmd->add_flag("--json", flags->json, "Print the full report as JSON (both decisions of every message)");
  cmd->add_flag("--changed-only", flags->changed_only, "Leave out the messages decided the same way");
  cmd->add_option("--output", flags->output, "Also write the JSON report to this file");
  cmd->add_flag("--exit-code", flags->exit_code,
                "Exit 3 when any message is not the same (changed, pending in the sandbox, or on one side only)");
  cmd->add_option("--timeout-ms", flags->timeout_ms, "How long to wait for Kafka (the sandbox's topics)")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd->footer(R"(Messages are matched by their inbound event id (a sandbox replay keeps it) and shown by
correlation id. Compared: outcome (answered, escalated), knowledge-base article and its
score (a difference up to 0.0001 is the same score), reply text, escalation reason.
A message the sandbox was given (its fte.tickets.incoming topic) but has not decided is
PENDING: its replay did not finish, or the sandbox's DLQ holds it (then its reason is shown).
The live database is FTE_DATABASE_URL; the sandbox's is found in its replays row.
Exit 0 whether or not anything changed; 2 when there is no such sandbox;
with --exit-code, 3 when any message is not the same (as `git diff --exit-code`).

Examples:
  fte replay diff kb-test
  fte replay diff kb-test --changed-only
  fte replay diff kb-test --json | jq '.messages[] | select(.status == "changed") | .changed'
  fte replay diff kb-test --output kb-test.json
  fte replay diff kb-test --exit-code || echo "the sandbox decided differently")");
  cmd->callback([&run, flags] { run = [flags](const Context& c) { return replay_diff(c, *flags); }; });
}

} // namespace fte::cli
