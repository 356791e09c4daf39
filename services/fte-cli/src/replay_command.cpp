// `fte replay`: replay selected records into a sandbox (the default) or,
// asked for explicitly, live (issue 9, ADR 0013).
#include <iomanip>
#include <iostream>
#include <unistd.h>

#include "commands.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/array_literal.hpp"
#include "replay_sandbox.hpp"
#include "replay_selection.hpp"

namespace fte::cli {
namespace {

struct ReplayFlags {
  std::string name;
  std::vector<std::string> topics;
  std::string from, to, offsets, customer, correlation_id;
  std::vector<std::string> types;
  bool live = false;
  bool yes = false;
  bool dry_run = false;
  bool hold = false;
  bool json = false;
  bool ask_model = false;
  int timeout_s = 600;
  std::string log_dir;
};

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

std::string topic_prefix(const Context& context) { return context.env.get_or("FTE_TOPIC_PREFIX", ""); }

kafka::ClientSettings settings_of(const Context& context) {
  return kafka::ClientSettings::from_env(context.env, "fte-cli-replay");
}

// The contract topics a replay reads, checked against what each target can
// do with them.
std::vector<std::string> replay_topics(const ReplayFlags& flags, const std::string& prefix) {
  std::vector<std::string> topics;
  for (const auto& given : flags.topics) {
    const auto name = contract_topic_name(given, prefix);
    if (name == kafka::topics::kDlq) {
      throw UsageError("the DLQ is not replayed: fte dlq redrive sends its records back where they came from");
    }
    if (name == kafka::topics::kMetricsAgent) {
      throw UsageError(std::string(kafka::topics::kMetricsAgent) +
                       " has no consumer in the pipeline, so replaying it changes nothing");
    }
    if (!flags.live && name == kafka::topics::kEmailInbound) {
      throw UsageError(std::string(kafka::topics::kEmailInbound) +
                       " holds Gmail push notifications, not messages: the sandbox has no Gmail access. Replay the "
                       "emails themselves from " +
                       std::string(kafka::topics::kTicketsIncoming));
    }
    if (std::find(topics.begin(), topics.end(), name) == topics.end()) topics.push_back(name);
  }
  if (topics.empty()) topics.emplace_back(kafka::topics::kTicketsIncoming);
  // One stage of the pipeline at a time: the normalizer writes the tickets
  // topic and the agent the escalations, so replaying a stage together with
  // its output would act on the same messages twice.
  for (const auto& t : topics) {
    if (stage_of(t) != stage_of(topics.front())) {
      throw UsageError("replay one stage at a time: " + topics.front() + " and " + t +
                       " are written one from the other (the channel topics, or fte.tickets.incoming, or "
                       "fte.escalations)");
    }
  }
  return topics;
}

ReplaySelection selection_from(const ReplayFlags& flags, const Context& context, pqxx::connection& live) {
  ReplaySelection selection;
  selection.topic_prefix = topic_prefix(context);
  selection.contract_topics = replay_topics(flags, selection.topic_prefix);
  const auto range = parse_time_range(flags.from, flags.to, std::chrono::system_clock::now());
  selection.from = range.from;
  selection.to = range.to;
  if (!flags.offsets.empty()) selection.offsets = parse_offset_ranges(flags.offsets);
  if (!flags.customer.empty()) selection.customer = resolve_customer(live, flags.customer);
  if (!flags.correlation_id.empty()) selection.correlation_id = flags.correlation_id;
  selection.event_types = flags.types;
  return selection;
}

std::vector<SelectedRecord> read_selection(const Context& context, const ReplaySelection& selection) {
  kafka::TopicReader reader(settings_of(context), context.logger, std::chrono::seconds(30));
  Progress scanned("records scanned", 0, std::cerr, stderr_is_terminal());
  auto records = select_records(reader, selection, &scanned);
  if (stderr_is_terminal()) scanned.finish();
  if (records.empty()) {
    std::string topics;
    for (const auto& t : selection.contract_topics)
      topics += (topics.empty() ? "" : ", ") + selection.topic_prefix + t;
    throw std::runtime_error("the selection is empty: no record on " + topics + " matches " +
                             selection.to_json().dump());
  }
  return records;
}

// What the sandbox's database starts from: the stage, the customers, and
// the selected records' time span.
SandboxState sandbox_state(pqxx::connection& live, const ReplaySelection& selection,
                           const std::vector<SelectedRecord>& records) {
  auto [first, last] = std::minmax_element(records.begin(), records.end(), [](const auto& a, const auto& b) {
    return a.record.timestamp_ms < b.record.timestamp_ms;
  });
  const auto at = [](std::int64_t ms) { return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)); };
  return SandboxState{stage_of(selection.contract_topics.front()), customers_of(live, records),
                      at(first->record.timestamp_ms), at(last->record.timestamp_ms)};
}

std::int64_t millis(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

void finish_replay_row(pqxx::connection& live, const std::string& id, const std::string& status, std::int64_t copied,
                       const std::string& error) {
  pqxx::work tx(live);
  tx.exec_params0("UPDATE replays SET status = $2, finished_at = now(), records_copied = $3, error = NULLIF($4, '') "
                  "WHERE id = $1::uuid",
                  id, status, copied, error);
  tx.commit();
}

// ---- sandbox ---------------------------------------------------------------

// A sandbox as its replays row describes it.
struct SandboxRow {
  std::string id;
  std::string status;
  std::vector<std::string> input_topics; ///< contract names
  SandboxState state;
};

std::optional<SandboxRow> find_sandbox(pqxx::connection& live, const std::string& name) {
  pqxx::read_transaction tx(live);
  const auto rows = tx.exec_params(
      "SELECT id::text, status, selection::text, coalesce(array_to_string(customer_ids, ','), ''), "
      "(extract(epoch FROM first_record_at) * 1000)::bigint, (extract(epoch FROM last_record_at) * 1000)::bigint "
      "FROM replays "
      "WHERE target = 'sandbox' AND name = $1 AND status <> 'removed'",
      name);
  if (rows.empty()) return std::nullopt;
  SandboxRow row;
  row.id = rows[0][0].as<std::string>();
  row.status = rows[0][1].as<std::string>();
  row.input_topics = nlohmann::json::parse(rows[0][2].as<std::string>()).at("topics").get<std::vector<std::string>>();
  const auto ids = rows[0][3].as<std::string>();
  for (std::size_t start = 0; start < ids.size();) {
    const auto comma = ids.find(',', start);
    row.state.customer_ids.insert(ids.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? ids.size() : comma + 1;
  }
  const auto at = [&](int column) {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(rows[0][column].is_null() ? 0 : rows[0][column].as<long long>()));
  };
  row.state.first_record = at(4);
  row.state.last_record = at(5);
  row.state.stage = stage_of(row.input_topics.front());
  return row;
}

// Runs the sandbox's consumers until they have drained, and says what they
// stored. The row becomes `done` (or `failed`, with the reason).
nlohmann::json run_sandbox(const Context& context, pqxx::connection& live, const SandboxNames& names,
                           const std::string& replay_id, const ReplayFlags& flags) {
  const std::filesystem::path log_dir = flags.log_dir.empty()
                                            ? std::filesystem::temp_directory_path() / ("fte-replay-" + names.name)
                                            : std::filesystem::path(flags.log_dir);
  std::cerr << "running channel-normalizer, agent-worker and escalation on sandbox " << names.name
            << " (replies are stored, never sent; logs in " << log_dir.string() << ")\n";
  try {
    {
      SandboxServices services(context.env, names, log_dir, flags.ask_model);
      wait_until_drained(settings_of(context), names, services, std::chrono::seconds(flags.timeout_s),
                         stderr_is_terminal());
      services.stop();
    }
    kafka::TopicReader reader(settings_of(context), context.logger, std::chrono::seconds(15));
    std::int64_t dead_lettered = 0;
    for (const auto& span : reader.spans(names.topic_prefix + std::string(kafka::topics::kDlq), std::nullopt))
      dead_lettered += span.size();
    pqxx::connection sandbox(names.database_url);
    pqxx::read_transaction tx(sandbox);
    const auto counts =
        tx.exec1("SELECT (SELECT count(*) FROM messages WHERE direction = 'inbound'), "
                 "(SELECT count(*) FROM messages WHERE direction = 'outbound'), (SELECT count(*) FROM escalations)");
    nlohmann::json summary = {{"replay_id", replay_id},
                              {"sandbox", names.name},
                              {"topic_prefix", names.topic_prefix},
                              {"database", names.database},
                              {"inbound_messages", counts[0].as<long>()},
                              {"replies", counts[1].as<long>()},
                              {"escalations", counts[2].as<long>()},
                              {"dead_lettered", dead_lettered},
                              {"logs", log_dir.string()}};
    pqxx::work done(live);
    done.exec_params0("UPDATE replays SET status = 'done', finished_at = now(), error = NULL WHERE id = $1::uuid",
                      replay_id);
    done.commit();
    return summary;
  } catch (const std::exception& e) {
    pqxx::work failed(live);
    failed.exec_params0("UPDATE replays SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1::uuid",
                        replay_id, std::string(e.what()));
    failed.commit();
    throw std::runtime_error(std::string(e.what()) + "\n(the sandbox is left as it is for a look; fte replay rm " +
                             names.name + " removes it)");
  }
}

void print_sandbox_summary(const nlohmann::json& summary, const ReplayFlags& flags) {
  const auto name = summary["sandbox"].get<std::string>();
  if (flags.json) {
    std::cout << summary.dump(2) << "\n";
    return;
  }
  std::cout << "sandbox " << name << ": " << summary["inbound_messages"] << " messages, " << summary["replies"]
            << " replies (stored, not sent), " << summary["escalations"] << " escalations, " << summary["dead_lettered"]
            << " dead-lettered\n"
            << "next: fte replay diff " << name << "   (and when done: fte replay rm " << name << ")\n";
}

int replay_into_sandbox(const Context& context, const ReplayFlags& flags) {
  const auto live_url = database_url(context);
  pqxx::connection live(live_url);
  const auto selection = selection_from(flags, context, live);
  std::string name = flags.name;
  if (name.empty()) {
    // r20261125-234512: sortable, and valid as a topic, group and database name.
    name = "r" + format_rfc3339(std::chrono::system_clock::now()).substr(0, 19);
    std::erase_if(name, [](char c) { return c == ':' || c == '-'; });
    std::replace(name.begin(), name.end(), 'T', '-');
  }
  const auto names = SandboxNames::derive(name, selection.topic_prefix, live_url);
  if (find_sandbox(live, names.name)) {
    throw UsageError("a sandbox named " + names.name + " exists: fte replay run " + names.name + " runs it again, " +
                     "fte replay diff " + names.name + " compares it, fte replay rm " + names.name + " removes it");
  }
  const auto records = read_selection(context, selection);
  const auto state = sandbox_state(live, selection, records);
  const auto& customers = state.customer_ids;
  std::cerr << "selected " << records.size() << " records of " << customers.size() << " customer(s), from "
            << format_rfc3339(state.first_record) << " to " << format_rfc3339(state.last_record) << "\n";
  if (flags.dry_run) {
    std::cout << nlohmann::json{{"dry_run", true},
                                {"sandbox", names.name},
                                {"records", records.size()},
                                {"customers", customers.size()},
                                {"selection", selection.to_json()}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }

  const auto replay_id = random_uuid();
  {
    pg::ArrayLiteral ids;
    for (const auto& id : customers)
      ids.add(id);
    pqxx::work tx(live);
    tx.exec_params0("INSERT INTO replays (id, name, target, requested_by, selection, topic_prefix, database_name, "
                    "first_record_at, last_record_at, customer_ids, records_selected, customers) VALUES ($1::uuid, $2, "
                    "'sandbox', $3, $4::jsonb, $5, $6, to_timestamp($7::double precision / 1000), "
                    "to_timestamp($8::double precision / 1000), $9::uuid[], $10, $11)",
                    replay_id, names.name, actor(context.env), selection.to_json().dump(), names.topic_prefix,
                    names.database, millis(state.first_record), millis(state.last_record), ids.str(),
                    static_cast<std::int64_t>(records.size()), static_cast<std::int64_t>(customers.size()));
    tx.commit();
  }
  std::int64_t copied = 0;
  try {
    std::cerr << "sandbox " << names.name << ": database " << names.database << ", topics " << names.topic_prefix
              << "*\n";
    create_sandbox_database(live, names, context.logger);
    pqxx::connection sandbox(names.database_url);
    (void)copy_live_state(live, sandbox, state, /*with_knowledge_base=*/true);
    create_sandbox_topics(settings_of(context), context.logger, selection.topic_prefix, names);
    Progress progress("records copied", static_cast<std::int64_t>(records.size()), std::cerr, stderr_is_terminal());
    copied = copy_records_into_sandbox(context.env, context.logger, records, names, replay_id, progress);
    progress.finish();
  } catch (const std::exception& e) {
    finish_replay_row(live, replay_id, "failed", copied, e.what());
    throw std::runtime_error(std::string(e.what()) + "\n(fte replay rm " + names.name + " removes what was made)");
  }
  if (flags.hold) {
    finish_replay_row(live, replay_id, "held", copied, "");
    std::cout << "sandbox " << names.name << " holds " << copied << " records; nothing has run yet.\n"
              << "change what you want to try, e.g. its knowledge base:\n"
              << "  psql '" << names.database_url
              << "' -c \"UPDATE knowledge_base SET body = '...' WHERE slug = '...'\"\n"
              << "then: fte replay run " << names.name << "\n";
    return kExitOk;
  }
  {
    pqxx::work tx(live);
    tx.exec_params0("UPDATE replays SET records_copied = $2 WHERE id = $1::uuid", replay_id, copied);
    tx.commit();
  }
  print_sandbox_summary(run_sandbox(context, live, names, replay_id, flags), flags);
  return kExitOk;
}

// `fte replay run <name>`: a held sandbox runs; one that has run is reset
// (its knowledge base kept) and runs again over the same records.
int rerun_sandbox(const Context& context, const std::string& name, const ReplayFlags& flags) {
  const auto live_url = database_url(context);
  pqxx::connection live(live_url);
  const auto row = find_sandbox(live, name);
  if (!row) throw UsageError("no sandbox named " + name + " (fte replay list shows them)");
  const auto names = SandboxNames::derive(name, topic_prefix(context), live_url);
  if (row->status != "held") {
    std::cerr << "resetting sandbox " << name << " (its knowledge base is kept)\n";
    reset_sandbox(live, settings_of(context), context.logger, names, row->input_topics, row->state);
  }
  {
    pqxx::work tx(live);
    tx.exec_params0("UPDATE replays SET status = 'running', error = NULL WHERE id = $1::uuid", row->id);
    tx.commit();
  }
  print_sandbox_summary(run_sandbox(context, live, names, row->id, flags), flags);
  return kExitOk;
}

// ---- live ------------------------------------------------------------------

int replay_live(const Context& context, const ReplayFlags& flags) {
  pqxx::connection live(database_url(context));
  const auto selection = selection_from(flags, context, live);
  const auto records = read_selection(context, selection);
  const auto customers = customers_of(live, records);
  const auto replayable = std::count_if(records.begin(), records.end(), [](const auto& r) { return r.event_id; });
  std::set<std::string> topics;
  for (const auto& r : records)
    topics.insert(r.record.topic);
  std::string topic_list;
  for (const auto& t : topics)
    topic_list += (topic_list.empty() ? "" : ", ") + t;
  std::cerr << "live replay: " << replayable << " records of " << customers.size() << " customer(s) on " << topic_list
            << " will be published again with new event ids (and a replay.of header), so the "
            << "pipeline acts on them again: replies are sent, escalations opened.\n";
  if (static_cast<std::size_t>(replayable) < records.size()) {
    std::cerr << (records.size() - static_cast<std::size_t>(replayable))
              << " selected record(s) are not CloudEvents and are left out\n";
  }
  if (replayable == 0) throw std::runtime_error("nothing to replay: no selected record is a CloudEvent");
  if (flags.dry_run) return kExitOk;
  if (!flags.yes && !confirm_on_terminal("Replay these records live?")) {
    if (isatty(STDIN_FILENO) == 0) throw UsageError("a live replay needs confirmation: pass --yes");
    std::cerr << "not replayed\n";
    return kExitRefused;
  }

  const auto replay_id = random_uuid();
  {
    pqxx::work tx(live);
    tx.exec_params0("INSERT INTO replays (id, target, requested_by, selection, records_selected, customers) "
                    "VALUES ($1::uuid, 'live', $2, $3::jsonb, $4, $5)",
                    replay_id, actor(context.env), selection.to_json().dump(), static_cast<std::int64_t>(replayable),
                    static_cast<std::int64_t>(customers.size()));
    tx.commit();
  }
  kafka::Producer producer(kafka::ProducerOptions::from_env(context.env, "fte-cli-replay"), context.logger);
  Progress progress("records replayed", replayable, std::cerr, stderr_is_terminal());
  pg::ArrayLiteral r_topic, r_partition, r_offset, r_original, r_new, r_key, r_new_partition, r_new_offset;
  std::int64_t sent = 0;
  try {
    for (const auto& selected : records) {
      if (!selected.event_id) continue;
      // A new id, derived from the original and this replay: dedup does not
      // swallow it, and the same replay never makes two.
      const auto new_id = name_based_uuid(kFteNamespace, "replay:" + replay_id + ":" + *selected.event_id);
      auto value = nlohmann::json::parse(selected.record.value);
      value["id"] = new_id;
      kafka::ProducerRecord record;
      record.topic = selected.record.topic;
      record.partition = selected.record.partition;
      record.key = selected.record.key;
      record.value = value.dump();
      record.headers = selected.record.headers;
      std::erase_if(record.headers, [](const events::Header& h) { return h.name.starts_with("replay."); });
      record.headers.push_back({"replay.of", *selected.event_id});
      record.headers.push_back({"replay.id", replay_id});
      const auto report = producer.send(std::move(record));
      if (!report.ok()) throw std::runtime_error("publishing a replayed record failed: " + report.detail);
      ++sent;
      progress.advance();
      r_topic.add(selected.record.topic);
      r_partition.add(std::to_string(selected.record.partition));
      r_offset.add(std::to_string(selected.record.offset));
      r_original.add(*selected.event_id);
      r_new.add(new_id);
      if (selected.record.key) {
        r_key.add(*selected.record.key);
      } else {
        r_key.add_null();
      }
      r_new_partition.add(std::to_string(report.partition));
      r_new_offset.add(std::to_string(report.offset));
    }
  } catch (const std::exception& e) {
    finish_replay_row(live, replay_id, "failed", sent, e.what());
    throw;
  }
  progress.finish();
  {
    pqxx::work tx(live);
    tx.exec_params0("INSERT INTO replay_records (replay_id, topic, \"partition\", \"offset\", original_event_id, "
                    "new_event_id, customer_key, new_partition, new_offset) "
                    "SELECT $1::uuid, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], "
                    "$7::text[], $8::int[], $9::bigint[])",
                    replay_id, r_topic.str(), r_partition.str(), r_offset.str(), r_original.str(), r_new.str(),
                    r_key.str(), r_new_partition.str(), r_new_offset.str());
    tx.exec_params0("UPDATE replays SET status = 'done', finished_at = now(), records_copied = $2 WHERE id = $1::uuid",
                    replay_id, sent);
    tx.commit();
  }
  if (flags.json) {
    std::cout << nlohmann::json{{"replay_id", replay_id}, {"records", sent}, {"customers", customers.size()}}.dump(2)
              << "\n";
  } else {
    std::cout << "replayed " << sent << " records of " << customers.size() << " customer(s) live as replay "
              << replay_id << "\n"
              << "each new record carries replay.of=<original event id>; fte trace <correlation id> shows both runs\n";
  }
  return kExitOk;
}

// ---- list and rm -------------------------------------------------------------

int list_replays(const Context& context, bool json, bool all) {
  pqxx::connection live(database_url(context));
  pqxx::read_transaction tx(live);
  const auto rows =
      tx.exec(std::string("SELECT id::text, target, coalesce(name, ''), status, requested_by, "
                          "to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                          "records_copied, customers, selection::text, coalesce(error, '') FROM replays ") +
              (all ? "" : "WHERE status <> 'removed' ") + "ORDER BY requested_at DESC LIMIT 100");
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    out.push_back({{"id", r[0].as<std::string>()},
                   {"target", r[1].as<std::string>()},
                   {"name", r[2].as<std::string>()},
                   {"status", r[3].as<std::string>()},
                   {"requested_by", r[4].as<std::string>()},
                   {"requested_at", r[5].as<std::string>()},
                   {"records", r[6].as<long>()},
                   {"customers", r[7].as<long>()},
                   {"selection", nlohmann::json::parse(r[8].as<std::string>())},
                   {"error", r[9].as<std::string>()}});
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(22) << "REQUESTED" << std::setw(9) << "TARGET" << std::setw(26) << "SANDBOX"
            << std::setw(9) << "STATUS" << std::setw(9) << "RECORDS" << std::setw(10) << "CUSTOMERS"
            << "BY\n";
  for (const auto& r : out) {
    std::cout << std::setw(22) << r["requested_at"].get<std::string>() << std::setw(9) << r["target"].get<std::string>()
              << std::setw(26) << (r["name"].get<std::string>().empty() ? "-" : r["name"].get<std::string>())
              << std::setw(9) << r["status"].get<std::string>() << std::setw(9) << r["records"].get<long>()
              << std::setw(10) << r["customers"].get<long>() << r["requested_by"].get<std::string>() << "\n";
  }
  return kExitOk;
}

int remove_replay(const Context& context, const std::string& name, bool json) {
  const auto live_url = database_url(context);
  pqxx::connection live(live_url);
  std::optional<std::string> id;
  {
    pqxx::read_transaction tx(live);
    const auto rows = tx.exec_params(
        "SELECT id::text FROM replays WHERE target = 'sandbox' AND name = $1 AND status <> 'removed'", name);
    if (!rows.empty()) id = rows[0][0].as<std::string>();
  }
  if (!id) throw UsageError("no sandbox named " + name + " (fte replay list shows them)");
  const auto names = SandboxNames::derive(name, topic_prefix(context), live_url);
  const auto removed = remove_sandbox(live, settings_of(context), context.logger, names);
  {
    pqxx::work tx(live);
    tx.exec_params0("UPDATE replays SET status = 'removed' WHERE id = $1::uuid", *id);
    tx.commit();
  }
  if (json) {
    std::cout << nlohmann::json{{"sandbox", name}, {"removed", removed}}.dump(2) << "\n";
  } else {
    std::cout << "removed sandbox " << name << "\n";
    for (const auto& line : removed)
      std::cout << "  " << line << "\n";
  }
  return kExitOk;
}

} // namespace

void add_replay_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* cmd = app.add_subcommand("replay", "Replay topic records into a sandbox (default) or live, and compare");
  cmd->require_subcommand(0, 1);
  auto flags = std::make_shared<ReplayFlags>();
  cmd->add_option("--name", flags->name, "The sandbox's name, [a-z0-9_-]{1,24} (default: r<date>-<time>)");
  cmd->add_option("--topic", flags->topics,
                  "A topic to replay from (repeatable; default fte.tickets.incoming): the channel topics "
                  "(webform, whatsapp), fte.tickets.incoming, fte.escalations");
  cmd->add_option("--from", flags->from, "Records written at or after: RFC 3339 or relative (-2h, -30m, -7d)");
  cmd->add_option("--to", flags->to, "Records written at or before: RFC 3339 or relative");
  cmd->add_option("--offsets", flags->offsets, "Offset ranges P:A-B, P:A-, P:A (comma-separated)");
  cmd->add_option("--customer", flags->customer,
                  "One customer, by id, email or phone: only the partitions its keys hash to are read");
  cmd->add_option("--correlation-id", flags->correlation_id, "Only the records of one message");
  cmd->add_option("--type", flags->types,
                  "Only events of this CloudEvent type (repeatable), e.g. fte.ticket.message.received.v1 to leave "
                  "out delivery updates");
  cmd->add_flag("--live", flags->live,
                "Re-publish to the live topics with new event ids (effects happen again: replies are sent)");
  cmd->add_flag("--yes", flags->yes, "Confirm a live replay without asking (for scripts)");
  cmd->add_flag("--dry-run", flags->dry_run, "Select and count, change nothing");
  cmd->add_flag("--hold", flags->hold,
                "Prepare the sandbox (database, topics, records) but do not run it yet: change its knowledge base "
                "first, then fte replay run <name>");
  cmd->add_option("--timeout", flags->timeout_s, "Seconds to wait for the sandbox to drain")->capture_default_str();
  cmd->add_option("--log-dir", flags->log_dir, "Where the sandbox services' logs go (default /tmp/fte-replay-<name>)");
  cmd->add_flag("--json", flags->json, "Print the outcome as JSON");
  cmd->add_flag("--ask-model", flags->ask_model,
                "Pass FTE_LLM* to the sandbox: its agent-worker asks the language model again (at its cost); "
                "without it the sandbox decides from retrieval");
  cmd->footer(R"(Examples:
  # what did the agent do with this customer's messages in the last two hours, and what would it do now?
  fte replay --name ada --customer ada@example.com --from -2h
  fte replay diff ada            # per message: answered/escalated, article, score, reply text, reason
  fte replay rm ada              # delete the sandbox's topics, groups and database
  # try a knowledge-base change before it goes live
  fte replay --name kb --customer ada@example.com --hold
  psql "postgresql://fte@127.0.0.1:15432/fte_sbx_kb" -c "UPDATE knowledge_base SET body = '...' WHERE slug = '...'"
  fte replay run kb && fte replay diff kb
  # one message, from the web form topic (the normalizer runs too)
  fte replay --name one --topic fte.channels.webform.inbound --correlation-id 2f0c...
  # live: the pipeline acts again on three records (new event ids, replay.of header)
  fte replay --live --customer +15551234567 --offsets 7:120-122 --yes
  fte replay list

A sandbox copies the records (keys, headers, event ids) to fte.sandbox.<name>.* topics and runs
channel-normalizer, agent-worker and escalation on them against a scratch database that starts from
the live knowledge base and the customers' state before the first record; replies are stored there,
never sent. Every replay is recorded in the replays table.)");
  cmd->callback([&run, flags, cmd] {
    if (!cmd->get_subcommands().empty()) return; // diff, run, rm or list set `run`
    run = [flags](const Context& c) { return flags->live ? replay_live(c, *flags) : replay_into_sandbox(c, *flags); };
  });

  add_replay_diff_command(*cmd, run);

  auto* rerun = cmd->add_subcommand("run", "Run a held sandbox, or run one again (reset, its knowledge base kept)");
  auto run_name = std::make_shared<std::string>();
  rerun->add_option("name", *run_name, "The sandbox")->required();
  rerun->add_option("--timeout", flags->timeout_s, "Seconds to wait for the sandbox to drain")->capture_default_str();
  rerun->add_option("--log-dir", flags->log_dir, "Where the sandbox services' logs go");
  rerun->add_flag("--json", flags->json, "Print the outcome as JSON");
  rerun->add_flag("--ask-model", flags->ask_model, "Pass FTE_LLM* to the sandbox: the model is asked again");
  rerun->footer(R"(Example:
  fte replay --name ada --customer ada@example.com --hold
  psql "postgresql://fte@127.0.0.1:15432/fte_sbx_ada" -c "UPDATE knowledge_base SET body = '...' WHERE slug = '...'"
  fte replay run ada && fte replay diff ada)");
  rerun->callback([&run, run_name, flags] {
    run = [run_name, flags](const Context& c) { return rerun_sandbox(c, *run_name, *flags); };
  });

  auto* rm = cmd->add_subcommand("rm", "Delete a sandbox's topics, consumer groups and database");
  auto rm_name = std::make_shared<std::string>();
  auto rm_json = std::make_shared<bool>(false);
  rm->add_option("name", *rm_name, "The sandbox")->required();
  rm->add_flag("--json", *rm_json, "Print JSON");
  rm->footer("Example:\n  fte replay rm ada");
  rm->callback([&run, rm_name, rm_json] {
    run = [rm_name, rm_json](const Context& c) { return remove_replay(c, *rm_name, *rm_json); };
  });

  auto* list = cmd->add_subcommand("list", "The replays recorded in the replays table, newest first");
  auto list_json = std::make_shared<bool>(false);
  auto list_all = std::make_shared<bool>(false);
  list->add_flag("--json", *list_json, "Print JSON");
  list->add_flag("--all", *list_all, "Include removed sandboxes");
  list->footer("Example:\n  fte replay list --json");
  list->callback([&run, list_json, list_all] {
    run = [list_json, list_all](const Context& c) { return list_replays(c, *list_json, *list_all); };
  });
}

} // namespace fte::cli
