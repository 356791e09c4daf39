#include "replay_sandbox.hpp"

#include <cstdlib>
#include <iostream>
#include <thread>
#include <unistd.h>

#include "fte/common/child_process.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/group_inspector.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/array_literal.hpp"
#include "fte/pg/migrator.hpp"
#include "fte/schema/migrations.hpp"

namespace fte::cli {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 24) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'; });
}

// The input topics of each sandbox service, as their mains subscribe.
std::vector<std::string> inputs_of(std::string_view service, const kafka::TopicNames& t) {
  if (service == "channel-normalizer") return {t.webform_inbound, t.whatsapp_inbound, t.email_inbound};
  if (service == "agent-worker") return {t.tickets_incoming};
  return {t.escalations};
}

// The rows of `select` as one JSON array: what crosses from the live
// database to the sandbox's (json_populate_recordset reads it back).
template <class... Params> std::string json_rows(pqxx::work& tx, const std::string& select, Params&&... params) {
  const pqxx::row row = tx.exec_params1("SELECT coalesce(json_agg(r), '[]'::json)::text FROM (" + select + ") r",
                                        std::forward<Params>(params)...);
  return row[0].as<std::string>();
}

} // namespace

ReplayStage stage_of(std::string_view contract_topic) {
  if (contract_topic == kafka::topics::kTicketsIncoming) return ReplayStage::tickets;
  if (contract_topic == kafka::topics::kEscalations) return ReplayStage::escalations;
  return ReplayStage::channels;
}

SandboxNames SandboxNames::derive(const std::string& name, const std::string& live_topic_prefix,
                                  const std::string& live_database_url) {
  if (!valid_name(name)) {
    throw UsageError("a sandbox name is 1 to 24 characters of a-z, 0-9, '_' and '-': '" + name + "' is not");
  }
  SandboxNames names;
  names.name = name;
  names.topic_prefix = live_topic_prefix + "fte.sandbox." + name + ".";
  auto db_suffix = name;
  std::replace(db_suffix.begin(), db_suffix.end(), '-', '_');
  names.database = database_name_of(live_database_url) + "_sbx_" + db_suffix;
  if (names.database.size() > 63) {
    throw UsageError("the sandbox database name " + names.database + " is longer than PostgreSQL's 63 characters");
  }
  names.database_url = with_database_name(live_database_url, names.database);
  return names;
}

std::string SandboxNames::group(std::string_view service) const { return topic_prefix + "fte." + std::string(service); }

std::vector<std::string> SandboxNames::groups() const {
  std::vector<std::string> out;
  for (const auto service : kSandboxServices)
    out.push_back(group(service));
  return out;
}

void create_sandbox_database(pqxx::connection& live, const SandboxNames& names, const Logger& logger) {
  {
    pqxx::nontransaction tx(live);
    if (!tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", names.database).empty()) {
      throw UsageError("the database " + names.database +
                       " exists already; remove the old sandbox first: fte replay rm " + names.name);
    }
    try {
      tx.exec0("CREATE DATABASE " + tx.quote_name(names.database));
    } catch (const pqxx::insufficient_privilege& e) {
      throw std::runtime_error("cannot create the sandbox database " + names.database +
                               ": the role needs CREATEDB (ALTER ROLE ... CREATEDB): " + e.what());
    }
  }
  pqxx::connection sandbox(names.database_url);
  const pg::Migrator migrator(schema::migrations(), logger);
  (void)migrator.run(sandbox);
}

std::map<std::string, long> copy_live_state(pqxx::connection& live, pqxx::connection& sandbox,
                                            const SandboxState& state, bool with_knowledge_base) {
  pg::ArrayLiteral ids;
  for (const auto& id : state.customer_ids)
    ids.add(id);
  // What the replayed stage finds in place rather than makes (ADR 0013):
  //  - the normalizer makes customers, so a channel replay copies only those
  //    that existed before its first record; the later stages never make
  //    one, so every selected customer is there for them;
  //  - the agent makes conversations and tickets, so the channel and ticket
  //    stages get those from before the first record; the escalation stage
  //    needs the agent's rows of the messages it escalates, up to the last.
  const bool all_customers = state.stage != ReplayStage::channels;
  const auto cut = format_rfc3339(state.stage == ReplayStage::escalations ? state.last_record + std::chrono::seconds(1)
                                                                          : state.first_record);
  const std::string customer_cut = all_customers ? "" : " AND c.created_at < $2::timestamptz";
  std::map<std::string, std::string> exported;
  {
    pqxx::work tx(live, "replay: read live state");
    tx.exec0("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    exported["knowledge_base"] =
        json_rows(tx, "SELECT id, slug, title, body, tags, created_at, updated_at FROM knowledge_base");
    // What the agent decides from besides the articles (ADR 0018): past
    // resolutions, the calibration set, and the stored vectors (so the
    // sandbox's agent-worker does not embed them all again).
    if (with_knowledge_base) {
      for (const auto* table : {"kb_examples", "kb_calibration", "kb_embeddings"})
        exported[table] = json_rows(tx, std::string("SELECT * FROM ") + table);
    }
    const std::string selected = "FROM customers c WHERE c.id = ANY($1::uuid[])" + customer_cut;
    exported["customers"] =
        json_rows(tx, "SELECT c.* " + selected + " AND $2::timestamptz IS NOT NULL", ids.str(), cut);
    exported["customer_identifiers"] = json_rows(
        tx,
        "SELECT i.* FROM customer_identifiers i JOIN customers c ON c.id = i.customer_id "
        "WHERE c.id = ANY($1::uuid[])" +
            customer_cut + (all_customers ? " AND $2::timestamptz IS NOT NULL" : " AND i.created_at < $2::timestamptz"),
        ids.str(), cut);
    exported["conversations"] = json_rows(tx,
                                          "SELECT v.* FROM conversations v JOIN customers c ON c.id = v.customer_id "
                                          "WHERE c.id = ANY($1::uuid[])" +
                                              customer_cut + " AND v.started_at < $2::timestamptz",
                                          ids.str(), cut);
    exported["tickets"] =
        json_rows(tx,
                  "SELECT t.* FROM tickets t JOIN conversations v ON v.id = t.conversation_id "
                  "JOIN customers c ON c.id = t.customer_id WHERE c.id = ANY($1::uuid[])" +
                      customer_cut + " AND v.started_at < $2::timestamptz AND t.created_at < $2::timestamptz",
                  ids.str(), cut);
    exported["messages"] =
        state.stage != ReplayStage::escalations
            ? "[]"
            : json_rows(tx,
                        "SELECT m.* FROM messages m JOIN conversations v ON v.id = m.conversation_id "
                        "WHERE m.customer_id = ANY($1::uuid[]) AND v.started_at < $2::timestamptz "
                        "AND m.created_at < $2::timestamptz",
                        ids.str(), cut);
    tx.commit();
  }
  std::map<std::string, long> copied;
  pqxx::work tx(sandbox, "replay: write sandbox state");
  if (with_knowledge_base) {
    // The migrations seed the knowledge base; the live one replaces it, ids
    // and all, so a reply's article means the same article in both.
    tx.exec0("DELETE FROM kb_examples");
    tx.exec0("DELETE FROM kb_calibration");
    tx.exec0("DELETE FROM kb_embeddings");
    tx.exec0("DELETE FROM knowledge_base");
    copied["knowledge_base"] =
        tx.exec_params("INSERT INTO knowledge_base (id, slug, title, body, tags, created_at, updated_at) "
                       "OVERRIDING SYSTEM VALUE SELECT id, slug, title, body, tags, created_at, updated_at "
                       "FROM json_populate_recordset(NULL::knowledge_base, $1::json)",
                       exported["knowledge_base"])
            .affected_rows();
    (void)tx.exec("SELECT setval(pg_get_serial_sequence('knowledge_base', 'id'), "
                  "greatest((SELECT max(id) FROM knowledge_base), 1))");
    for (const auto* table : {"kb_examples", "kb_calibration", "kb_embeddings"}) {
      const std::string name(table);
      const bool identity = name != "kb_embeddings";
      copied[name] = tx.exec_params("INSERT INTO " + name + (identity ? " OVERRIDING SYSTEM VALUE" : "") +
                                        " SELECT * FROM json_populate_recordset(NULL::" + name + ", $1::json)",
                                    exported[name])
                         .affected_rows();
      if (identity)
        (void)tx.exec("SELECT setval(pg_get_serial_sequence('" + name + "', 'id'), greatest((SELECT max(id) FROM " +
                      name + "), 1))");
    }
  }
  for (const auto* table : {"customers", "customer_identifiers", "conversations", "tickets", "messages"}) {
    const std::string name(table);
    const char* overriding = name == "customer_identifiers" ? " OVERRIDING SYSTEM VALUE" : "";
    copied[name] = tx.exec_params("INSERT INTO " + name + overriding +
                                      " SELECT * FROM json_populate_recordset(NULL::" + name + ", $1::json)",
                                  exported[name])
                       .affected_rows();
  }
  (void)tx.exec("SELECT setval(pg_get_serial_sequence('customer_identifiers', 'id'), "
                "greatest((SELECT max(id) FROM customer_identifiers), 1))");
  // A ticket changed after the first replayed record was open (or
  // answered) before it: a later message found it and continued it. Its
  // state at that moment is not kept anywhere, so it starts open.
  if (state.stage != ReplayStage::escalations) {
    tx.exec_params0("UPDATE tickets SET status = 'open' WHERE updated_at >= $1::timestamptz AND status NOT IN "
                    "('open', 'answered')",
                    cut);
  }
  tx.commit();
  return copied;
}

void create_sandbox_topics(const kafka::ClientSettings& settings, const Logger& logger, const std::string& live_prefix,
                           const SandboxNames& names) {
  kafka::TopicAdmin admin(settings, logger, std::chrono::seconds(15));
  const auto live = kafka::TopicNames::with_prefix(live_prefix).all();
  const auto described = admin.describe(live);
  std::vector<kafka::TopicSpec> specs;
  for (std::size_t i = 0; i < described.size(); ++i) {
    const auto& d = described[i];
    if (!d.exists) throw kafka::AdminError("the live topic " + d.name + " does not exist");
    kafka::TopicSpec spec;
    spec.name = names.topic_prefix + std::string(kafka::topics::kAll[i]);
    spec.partitions = d.partitions;
    spec.replication_factor = d.replication_factor;
    if (auto it = d.configs.find("min.insync.replicas"); it != d.configs.end()) {
      spec.min_insync_replicas = std::atoi(it->second.c_str());
    }
    if (auto it = d.configs.find("retention.ms"); it != d.configs.end()) {
      spec.retention_ms = std::atoll(it->second.c_str());
    }
    specs.push_back(spec);
  }
  for (const auto& outcome : admin.ensure(specs)) {
    if (outcome.state == kafka::TopicOutcome::State::failed ||
        outcome.state == kafka::TopicOutcome::State::fewer_partitions) {
      throw kafka::AdminError("sandbox topic " + outcome.name + ": " + outcome.detail);
    }
  }
}

std::int64_t copy_records_into_sandbox(const Environment& env, const Logger& logger,
                                       const std::vector<SelectedRecord>& records, const SandboxNames& names,
                                       const std::string& replay_id, Progress& progress) {
  kafka::Producer producer(kafka::ProducerOptions::from_env(env, "fte-cli-replay"), logger);
  std::vector<std::future<kafka::DeliveryReport>> pending;
  std::int64_t copied = 0;
  const auto settle = [&](std::size_t keep) {
    while (pending.size() > keep) {
      const auto report = pending.front().get();
      pending.erase(pending.begin());
      if (!report.ok()) throw std::runtime_error("copying into the sandbox failed: " + report.detail);
      ++copied;
      progress.advance();
    }
  };
  for (const auto& selected : records) {
    kafka::ProducerRecord record;
    record.topic = names.topic_prefix + selected.contract_topic;
    record.partition = selected.record.partition; // same place, same order
    record.key = selected.record.key;
    record.value = selected.record.value;
    record.headers = selected.record.headers;
    record.headers.push_back({"replay.id", replay_id});
    pending.push_back(producer.send_async(std::move(record)));
    settle(10'000);
  }
  settle(0);
  (void)producer.flush(std::chrono::seconds(30));
  return copied;
}

std::string find_service_binary(std::string_view service, const Environment& env) {
  std::vector<std::filesystem::path> candidates;
  if (auto dir = env.get("FTE_BIN_DIR")) candidates.emplace_back(std::filesystem::path(*dir) / service);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(self.parent_path() / service);                         // installed side by side
    candidates.push_back(self.parent_path().parent_path() / service / service); // the build tree
  }
  for (const auto& dir : std::string_view(env.get_or("PATH", "/usr/local/bin:/usr/bin")) | std::views::split(':')) {
    candidates.push_back(std::filesystem::path(std::string(dir.begin(), dir.end())) / service);
  }
  for (const auto& path : candidates) {
    if (::access(path.c_str(), X_OK) == 0) return path.string();
  }
  throw UsageError("cannot find the " + std::string(service) +
                   " binary beside fte, in the build tree or on PATH; set FTE_BIN_DIR to where it is");
}

SandboxServices::SandboxServices(const Environment& env, const SandboxNames& names,
                                 const std::filesystem::path& log_dir, bool ask_model) {
  std::filesystem::create_directories(log_dir);
  // Built, not inherited (ADR 0013): Kafka's settings, and what shapes the
  // agent's decisions (the embedding settings among them: a sandbox ranking
  // without the live model decides differently) and the consumers'
  // batching. No reply-provider settings, so nothing can reach Twilio or
  // Gmail, and no pod name (static membership would fence the live replica
  // that owns it).
  std::map<std::string, std::string> base;
  for (const auto* prefix : {"FTE_KAFKA_", "FTE_RDKAFKA_", "FTE_KB_", "FTE_AGENT_", "FTE_EMBEDDINGS", "FTE_ESCALATION_",
                             "FTE_CONSUMER_LANES", "FTE_CONSUMER_BATCH_", "FTE_CONSUMER_MAX_IN_FLIGHT", "FTE_RETRY_",
                             "FTE_DB_POOL_SIZE", "FTE_TOPIC_RETENTION_MS", "FTE_DEDUP_RETENTION_MS"}) {
    for (auto& [k, v] : env.with_name_prefix(prefix))
      base[k] = v;
  }
  if (ask_model) {
    for (auto& [k, v] : env.with_name_prefix("FTE_LLM"))
      base[k] = v;
  }
  for (const auto* name : {"PATH", "LANG", "TZ", "HOME"}) {
    if (auto v = env.get(name)) base[name] = *v;
  }
  base["FTE_LOG_LEVEL"] = env.get_or("FTE_LOG_LEVEL", "info");
  base["FTE_TOPIC_PREFIX"] = names.topic_prefix;
  base["FTE_DATABASE_URL"] = names.database_url;
  base["FTE_REPLY_DISPATCHER"] = "false";
  base["FTE_ADMIN_ADDR"] = "127.0.0.1:0";
  base["FTE_HTTP_ADDR"] = "127.0.0.1:0";
  for (const auto service : kSandboxServices) {
    auto vars = base;
    vars["FTE_CONSUMER_GROUP"] = names.group(service);
    const auto log = (log_dir / (std::string(service) + ".log")).string();
    children_.emplace_back(std::string(service),
                           std::make_unique<ChildProcess>(find_service_binary(service, env), std::vector<std::string>{},
                                                          vars, log, /*inherit_environment=*/false));
  }
}

SandboxServices::~SandboxServices() { stop(); }

std::string SandboxServices::exited() {
  for (auto& [name, child] : children_) {
    if (!child->running())
      return name + " exited; the end of its log (" + child->log_path() + "):\n" + child->log_tail(1500);
  }
  return {};
}

void SandboxServices::stop() {
  for (auto& [name, child] : children_)
    (void)child->terminate(std::chrono::seconds(30));
  children_.clear();
}

namespace {

// Records the sandbox groups have yet to commit past, over all their input
// topics; `behind` names one place that is behind.
std::int64_t sandbox_lag(kafka::GroupInspector& groups, kafka::TopicReader& reader, const SandboxNames& names,
                         std::string& behind) {
  const auto topics = kafka::TopicNames::with_prefix(names.topic_prefix);
  const auto committed = groups.committed_offsets(names.groups());
  std::int64_t total = 0;
  for (const auto service : kSandboxServices) {
    const auto group = committed.find(names.group(service));
    for (const auto& topic : inputs_of(service, topics)) {
      for (const auto& s : reader.spans(topic, std::nullopt)) {
        if (s.size() == 0) continue;
        std::optional<std::int64_t> at;
        if (group != committed.end()) {
          if (auto it = group->second.find({topic, s.partition}); it != group->second.end()) at = it->second;
        }
        const auto lag = at ? s.end - *at : s.size();
        if (lag > 0) {
          total += lag;
          behind = std::string(service) + " on " + topic + "[" + std::to_string(s.partition) +
                   "]: " + std::to_string(lag) + " to go";
        }
      }
    }
  }
  return total;
}

} // namespace

void wait_until_drained(const kafka::ClientSettings& settings, const SandboxNames& names, SandboxServices& services,
                        std::chrono::seconds timeout, bool terminal) {
  const auto quiet = Logger::to_stderr("fte", spdlog::level::warn);
  kafka::TopicReader reader(settings, quiet, std::chrono::seconds(15));
  kafka::GroupInspector groups(settings, quiet, std::chrono::seconds(15));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int settled_polls = 0;
  std::string behind;
  for (;;) {
    if (auto gone = services.exited(); !gone.empty()) throw std::runtime_error("a sandbox service stopped: " + gone);
    behind.clear();
    std::int64_t lag = -1;
    try {
      lag = sandbox_lag(groups, reader, names, behind);
    } catch (const kafka::AdminError& e) {
      // New topics answer "not leader" for a moment: not drained yet.
      behind = e.what();
    }
    if (terminal && lag >= 0) {
      std::cerr << "\r\033[Kwaiting for the sandbox to drain: " << lag << " records to go" << std::flush;
    }
    settled_polls = lag == 0 ? settled_polls + 1 : 0;
    if (settled_polls >= 2) break;
    if (std::chrono::steady_clock::now() > deadline) {
      if (terminal) std::cerr << "\n";
      throw std::runtime_error("the sandbox did not drain within " + std::to_string(timeout.count()) +
                               " s; still behind: " + behind);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (terminal) std::cerr << "\r\033[K";
}

void reset_sandbox(pqxx::connection& live, const kafka::ClientSettings& settings, const Logger& logger,
                   const SandboxNames& names, const std::vector<std::string>& input_contract_topics,
                   const SandboxState& state) {
  kafka::TopicAdmin admin(settings, logger, std::chrono::seconds(15));
  const auto sandbox_topics = kafka::TopicNames::with_prefix(names.topic_prefix).all();
  const auto described = admin.describe(sandbox_topics);
  for (std::size_t i = 0; i < described.size(); ++i) {
    const std::string contract(kafka::topics::kAll[i]);
    if (!described[i].exists) throw kafka::AdminError("the sandbox topic " + described[i].name + " is gone");
    if (std::find(input_contract_topics.begin(), input_contract_topics.end(), contract) ==
        input_contract_topics.end()) {
      admin.truncate(described[i].name, described[i].partitions);
    }
  }
  if (const auto refused = admin.remove_groups(names.groups()); !refused.empty()) {
    throw std::runtime_error("could not reset the sandbox's consumer groups (" + refused.begin()->first + ": " +
                             refused.begin()->second + "); is a sandbox service still running?");
  }
  pqxx::connection sandbox(names.database_url);
  {
    pqxx::work tx(sandbox, "replay: empty the sandbox");
    // Everything the pipeline or the copy wrote; the knowledge (maybe edited
    // by the engineer: articles, past resolutions, calibration set, stored
    // vectors, their audit and change feed), the desk's SLA targets (the
    // escalation consumer opens no conversation without them) and the
    // migration history stay.
    const auto tables =
        tx.exec("SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'public' AND "
                "tablename NOT IN ('knowledge_base', 'kb_examples', 'kb_calibration', 'kb_embeddings', 'kb_audit', "
                "'kb_changes', 'desk_sla', 'fte_schema_migrations')");
    if (!tables[0][0].is_null()) tx.exec0("TRUNCATE " + tables[0][0].as<std::string>() + " CASCADE");
    tx.commit();
  }
  copy_live_state(live, sandbox, state, /*with_knowledge_base=*/false);
}

std::vector<std::string> remove_sandbox(pqxx::connection& live, const kafka::ClientSettings& settings,
                                        const Logger& logger, const SandboxNames& names) {
  std::vector<std::string> removed;
  kafka::TopicAdmin admin(settings, logger, std::chrono::seconds(15));
  std::vector<std::string> existing;
  for (const auto& d : admin.describe(kafka::TopicNames::with_prefix(names.topic_prefix).all())) {
    if (d.exists) existing.push_back(d.name);
  }
  if (!existing.empty()) {
    admin.remove(existing);
    removed.push_back("topics: " + std::to_string(existing.size()) + " under " + names.topic_prefix);
  }
  const auto refused = admin.remove_groups(names.groups());
  if (!refused.empty()) {
    std::string why;
    for (const auto& [group, reason] : refused)
      why += (why.empty() ? "" : "; ") + group + ": " + reason;
    throw std::runtime_error("could not delete the sandbox's consumer groups (" + why +
                             "); is a sandbox service still running?");
  }
  removed.push_back("consumer groups: " + std::to_string(names.groups().size()) + " (" + names.group("*") + ")");
  pqxx::nontransaction tx(live);
  if (!tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", names.database).empty()) {
    tx.exec0("DROP DATABASE " + tx.quote_name(names.database) + " WITH (FORCE)");
    removed.push_back("database: " + names.database);
  }
  return removed;
}

} // namespace fte::cli
