// `fte dlq list` and `fte dlq show`, and the registration of `fte dlq`.
#include "dlq_command.hpp"

#include <charconv>
#include <iomanip>
#include <iostream>

#include "fte/common/text.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::cli::dlq {

// ------------------------------------------------------------ shared

std::string format_ms(std::int64_t ms) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

Selection make_selection(const Context& context, const SelectionFlags& flags, pqxx::connection* database) {
  Selection selection;
  if (!flags.reason.empty()) {
    selection.reason = kafka::parse_dlq_reason(flags.reason);
    if (!selection.reason) {
      throw UsageError("--reason '" + flags.reason + "' is not invalid_event, poison or retries_exhausted");
    }
  }
  if (!flags.group.empty()) selection.group = flags.group;
  if (!flags.topic.empty()) {
    const auto prefix = context.env.get_or("FTE_TOPIC_PREFIX", "");
    selection.topic = prefix + contract_topic_name(flags.topic, prefix);
  }
  const auto range = parse_time_range(flags.from, flags.to, std::chrono::system_clock::now());
  selection.from = range.from;
  selection.to = range.to;
  if (!flags.offsets.empty()) {
    selection.offsets = parse_offset_ranges(flags.offsets);
    selection.offsets_arg = flags.offsets;
  }
  if (!flags.event_id.empty()) selection.event_id = flags.event_id;
  if (!flags.customer.empty()) {
    if (database == nullptr) throw std::logic_error("make_selection: --customer needs the database");
    selection.customer = resolve_customer(*database, flags.customer);
    selection.customer_arg = flags.customer;
  }
  return selection;
}

std::unique_ptr<pqxx::connection> connect_database(const Context& context) {
  const auto url = database_url(context);
  try {
    return std::make_unique<pqxx::connection>(url);
  } catch (const pqxx::broken_connection& e) {
    throw std::runtime_error("PostgreSQL at " + url + " is not answering (" + std::string(trim(e.what())) +
                             "); is the stack up, and is --database-url or FTE_DATABASE_URL right?");
  }
}

DlqSource open_dlq(const Context& context, std::chrono::milliseconds timeout) {
  const auto topic = context.env.get_or("FTE_DLQ_TOPIC", kafka::TopicNames::from_env(context.env).dlq);
  return DlqSource(kafka::ClientSettings::from_env(context.env, "fte-cli"), topic, context.logger, timeout);
}

namespace {

// ------------------------------------------------------------ list

struct ListFlags {
  SelectionFlags selection;
  bool all = false;
  bool json = false;
  int timeout_ms = 30'000;
};

void print_list(const ListSummary& summary, const std::string& dlq_topic, bool all) {
  if (summary.rows.empty()) {
    std::cout << "No " << (all ? "" : "unresolved ") << "DLQ record on " << dlq_topic << " matches.\n";
    return;
  }
  std::cout << std::left << std::setw(30) << "ORIGIN TOPIC" << std::setw(24) << "GROUP" << std::setw(19) << "REASON"
            << std::setw(38) << "CUSTOMER" << std::setw(7) << "COUNT" << std::setw(25) << "OLDEST" << std::setw(25)
            << "NEWEST" << std::setw(10) << "FIRST" << std::setw(11) << "OVERTAKEN" << (all ? "RESOLVED" : "") << "\n";
  for (const auto& row : summary.rows) {
    std::cout << std::setw(30) << row.origin_topic << std::setw(24) << row.group << std::setw(19) << row.reason
              << std::setw(38) << (row.customer.empty() ? "(no key)" : row.customer) << std::setw(7) << row.count
              << std::setw(25) << format_ms(row.oldest_ms) << std::setw(25) << format_ms(row.newest_ms) << std::setw(10)
              << row.oldest_place << std::setw(11)
              << (row.overtaken_by > 0 ? "YES (" + std::to_string(row.overtaken_by) + ")" : "-")
              << (all ? (row.resolved ? "yes" : "no") : "") << "\n";
  }
  std::cout << "\n" << summary.records << " record" << (summary.records == 1 ? "" : "s") << " on " << dlq_topic;
  if (all) std::cout << " (" << summary.resolved_records << " resolved: re-driven and processed)";
  std::cout << ".\n";
  if (summary.overtaken_customers > 0) {
    std::cout << summary.overtaken_customers << (summary.overtaken_customers == 1 ? " customer has" : " customers have")
              << " later messages processed while an earlier one waits in the DLQ (" << summary.overtaking_records
              << " overtaking record" << (summary.overtaking_records == 1 ? "" : "s")
              << "); re-driving now puts the earlier one after them.\n";
  }
}

nlohmann::json list_json(const ListSummary& summary, const std::string& dlq_topic) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : summary.rows) {
    rows.push_back({{"origin_topic", row.origin_topic},
                    {"group", row.group},
                    {"reason", row.reason},
                    {"customer", row.customer},
                    {"key", row.key},
                    {"count", row.count},
                    {"oldest", format_ms(row.oldest_ms)},
                    {"newest", format_ms(row.newest_ms)},
                    {"oldest_place", row.oldest_place},
                    {"resolved", row.resolved},
                    {"overtaken", row.overtaken_by > 0},
                    {"overtaken_by", row.overtaken_by}});
  }
  return {{"dlq_topic", dlq_topic},
          {"records", summary.records},
          {"resolved_records", summary.resolved_records},
          {"overtaken_customers", summary.overtaken_customers},
          {"overtaking_records", summary.overtaking_records},
          {"rows", rows}};
}

int list(const Context& context, const ListFlags& flags) {
  auto database = connect_database(context);
  const auto selection = make_selection(context, flags.selection, database.get());
  const auto source = open_dlq(context, std::chrono::milliseconds(flags.timeout_ms));
  // The whole DLQ, not only the selected time range: whether a later record
  // waits in the DLQ too decides whether it overtook.
  auto all_entries = source.read(std::nullopt);
  mark_resolved(all_entries, *database);
  std::vector<Entry> selected;
  for (const auto& e : all_entries) {
    if (selection.matches(e) && (flags.all || !e.resolved)) selected.push_back(e);
  }
  const auto scan = source.later_records(selected, *database);
  for (const auto& topic : scan.missing_topics) {
    std::cerr << "fte: origin topic " << topic
              << " no longer exists; its DLQ records are not checked for later messages\n";
  }
  const auto summary = summarize(selected, find_overtaken(selected, all_entries, scan.records, scan.progress));
  if (flags.json) {
    std::cout << list_json(summary, source.topic()).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    print_list(summary, source.topic(), flags.all);
  }
  return kExitOk;
}

// ------------------------------------------------------------ show

struct ShowFlags {
  std::string which;
  bool json = false;
  int timeout_ms = 30'000;
};

std::optional<std::int64_t> to_offset(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 0) return std::nullopt;
  return value;
}

struct RedriveHistory {
  std::string redrive_id;
  std::string redriven_by;
  std::string redriven_at;
  int redrive_count = 0;
  std::string origin_topic;
  std::optional<std::int32_t> origin_partition;
  std::optional<std::int64_t> new_offset;
};

std::vector<RedriveHistory> history_of(pqxx::connection& database, const std::string& dlq_topic, const Entry& entry) {
  pqxx::read_transaction tx(database);
  std::vector<RedriveHistory> out;
  for (const auto& row :
       tx.exec_params("SELECT redrive_id::text, redriven_by, to_char(redriven_at AT TIME ZONE 'UTC', "
                      "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), redrive_count, origin_topic, origin_partition, new_offset "
                      "FROM dlq_redrives WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3 ORDER BY id",
                      dlq_topic, entry.record.partition, entry.record.offset)) {
    RedriveHistory h{row[0].as<std::string>(),
                     row[1].as<std::string>(),
                     row[2].as<std::string>(),
                     row[3].as<int>(),
                     row[4].as<std::string>(),
                     std::nullopt,
                     std::nullopt};
    if (!row[5].is_null()) h.origin_partition = row[5].as<std::int32_t>();
    if (!row[6].is_null()) h.new_offset = row[6].as<std::int64_t>();
    out.push_back(std::move(h));
  }
  return out;
}

nlohmann::json show_json(const Entry& e, const std::string& dlq_topic, const std::vector<RedriveHistory>& history) {
  nlohmann::json headers = nlohmann::json::array();
  for (const auto& h : e.record.headers)
    headers.push_back({{"name", h.name}, {"value", h.value}});
  nlohmann::json redrives = nlohmann::json::array();
  for (const auto& h : history) {
    redrives.push_back({{"redrive_id", h.redrive_id},
                        {"redriven_by", h.redriven_by},
                        {"redriven_at", h.redriven_at},
                        {"redrive_count", h.redrive_count},
                        {"origin_topic", h.origin_topic},
                        {"origin_partition", h.origin_partition ? nlohmann::json(*h.origin_partition) : nullptr},
                        {"new_offset", h.new_offset ? nlohmann::json(*h.new_offset) : nullptr}});
  }
  const auto payload = pretty_payload(e.record.value);
  return {{"dlq_topic", dlq_topic},
          {"partition", e.record.partition},
          {"offset", e.record.offset},
          {"written_at", format_ms(e.record.timestamp_ms)},
          {"key", e.record.key ? nlohmann::json(*e.record.key) : nullptr},
          {"event_id", e.event_id},
          {"event_type", e.event_type},
          {"correlation_id", e.correlation_id},
          {"customer_id", e.customer_id},
          {"dlq",
           {{"reason", e.dlq.reason ? std::string(kafka::to_string(*e.dlq.reason)) : std::string()},
            {"reason_inferred", e.dlq.reason_inferred},
            {"error", e.dlq.error},
            {"attempts", e.dlq.attempts ? nlohmann::json(*e.dlq.attempts) : nullptr},
            {"service", e.dlq.service},
            {"group", e.group},
            {"original",
             {{"topic", e.dlq.original_topic},
              {"partition", e.dlq.original_partition ? nlohmann::json(*e.dlq.original_partition) : nullptr},
              {"offset", e.dlq.original_offset ? nlohmann::json(*e.dlq.original_offset) : nullptr}}}}},
          {"redrive_count", e.dlq.redrive_count},
          {"redrives", redrives},
          {"resolved", e.resolved},
          {"headers", headers},
          {"payload_is_json", payload.is_json},
          {"payload",
           payload.is_json ? nlohmann::json::parse(e.record.value, nullptr, false) : nlohmann::json(e.record.value)}};
}

void print_show(const Entry& e, const std::string& dlq_topic, const std::vector<RedriveHistory>& history) {
  const auto line = [](const std::string& label, const std::string& value) {
    std::cout << "  " << std::left << std::setw(16) << label << escape_text(value, /*one_line=*/true) << "\n";
  };
  std::cout << "DLQ record " << dlq_topic << " " << e.place() << ", written " << format_ms(e.record.timestamp_ms)
            << "\n";
  line("key", e.record.key.value_or("(none)"));
  line("event id", e.event_id.empty() ? "(none: not a CloudEvent)" : e.event_id);
  if (!e.event_type.empty()) line("type", e.event_type);
  if (!e.correlation_id.empty()) line("correlation id", e.correlation_id);
  if (!e.customer_id.empty()) line("customer id", e.customer_id);
  std::cout << "Why it is in the DLQ\n";
  line("reason", (e.dlq.reason ? std::string(kafka::to_string(*e.dlq.reason)) : "unknown") +
                     (e.dlq.reason_inferred ? " (no dlq.reason header: inferred from the error)" : ""));
  line("error", e.dlq.error);
  line("attempts", e.dlq.attempts ? std::to_string(*e.dlq.attempts) : "?");
  line("service", e.dlq.service);
  line("group", e.group.empty() ? "(unknown)" : e.group);
  line("original place", e.dlq.original_topic + " " +
                             (e.dlq.original_partition ? std::to_string(*e.dlq.original_partition) : "?") + ":" +
                             (e.dlq.original_offset ? std::to_string(*e.dlq.original_offset) : "?"));
  line("redrive.count", std::to_string(e.dlq.redrive_count) +
                            (e.dlq.redrive_count > 0 ? " (it had been re-driven before it failed again, last by run " +
                                                           e.dlq.redrive_id + ")"
                                                     : " (never re-driven before it came here)"));
  if (history.empty()) {
    line("re-driven", "never from this DLQ record");
  } else {
    const auto& last = history.back();
    line("re-driven", std::to_string(history.size()) + " time" + (history.size() == 1 ? "" : "s") +
                          " from this DLQ record; last " + last.redriven_at + " by " + last.redriven_by + " (run " +
                          last.redrive_id + ", redrive.count " + std::to_string(last.redrive_count) +
                          (last.new_offset ? ", now at " + last.origin_topic + " " +
                                                 std::to_string(last.origin_partition.value_or(-1)) + ":" +
                                                 std::to_string(*last.new_offset)
                                           : std::string()) +
                          ")");
  }
  line("resolved", e.resolved                              ? "yes: " + e.group + " has processed this event id"
                   : e.event_id.empty() || e.group.empty() ? "unknown (no event id or group to look up)"
                                                           : "no: " + e.group + " has not processed this event id");
  std::cout << "Headers\n";
  for (const auto& h : e.record.headers)
    std::cout << "  " << escape_text(h.name, true) << ": " << escape_text(h.value, true) << "\n";
  const auto payload = pretty_payload(e.record.value);
  std::cout << (payload.is_json ? "Payload (JSON)\n" : "Payload (not JSON; shown as text, escaped)\n") << payload.text
            << "\n";
}

int show(const Context& context, const ShowFlags& flags) {
  const auto which = std::string(trim(flags.which));
  if (which.empty()) throw UsageError("say which DLQ record: PARTITION:OFFSET, OFFSET or an event id");
  auto database = connect_database(context);
  const auto source = open_dlq(context, std::chrono::milliseconds(flags.timeout_ms));
  std::vector<Entry> found;
  const auto colon = which.find(':');
  const auto partition =
      colon == std::string::npos ? std::nullopt : to_offset(std::string_view(which).substr(0, colon));
  const auto offset_in_partition =
      colon == std::string::npos ? std::nullopt : to_offset(std::string_view(which).substr(colon + 1));
  if (partition && offset_in_partition) {
    if (*partition > INT32_MAX) throw UsageError("no partition " + std::to_string(*partition));
    found = source.read_at({std::pair{static_cast<std::int32_t>(*partition), *offset_in_partition}});
  } else if (const auto offset = to_offset(which)) {
    found = source.read_offset(*offset);
    if (found.size() > 1) {
      std::cerr << "fte: offset " << *offset << " is in " << found.size() << " partitions of " << source.topic()
                << "; say which as PARTITION:OFFSET:\n";
      for (const auto& e : found) {
        std::cerr << "  " << e.place() << "  " << (e.event_id.empty() ? "(no event id)" : e.event_id) << "  from "
                  << e.dlq.original_topic << "  " << format_ms(e.record.timestamp_ms) << "\n";
      }
      return kExitUsage;
    }
  } else {
    for (auto& e : source.read(std::nullopt)) {
      if (e.event_id == which) found.push_back(std::move(e));
    }
  }
  if (found.empty()) {
    std::cerr << "fte: no DLQ record on " << source.topic() << " at or with '" << which << "'\n";
    return kExitFailure;
  }
  mark_resolved(found, *database);
  nlohmann::json shown = nlohmann::json::array();
  for (std::size_t i = 0; i < found.size(); ++i) {
    const auto history = history_of(*database, source.topic(), found[i]);
    if (flags.json) {
      shown.push_back(show_json(found[i], source.topic(), history));
    } else {
      if (i > 0) std::cout << "\n";
      print_show(found[i], source.topic(), history);
    }
  }
  if (flags.json) {
    // One object for one record; an event id that failed more than once
    // (re-driven and dead-lettered again) gives an array, oldest first.
    const auto& out = shown.size() == 1 ? shown[0] : shown;
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return kExitOk;
}

// ------------------------------------------------------------ registration

void add_selection_options(CLI::App* cmd, SelectionFlags& flags, bool redrive) {
  cmd->add_option("--reason", flags.reason, "invalid_event | poison | retries_exhausted");
  cmd->add_option("--group", flags.group, "The consumer group that gave up (dlq.group), e.g. fte.agent-worker");
  cmd->add_option("--customer", flags.customer, "A customer id, email address or phone number (+ and country code)");
  cmd->add_option("--topic", flags.topic, "The origin topic, with or without the deployment's prefix");
  cmd->add_option("--from", flags.from, "Dead-lettered at or after: RFC 3339 or relative (-2h, -7d)");
  cmd->add_option("--to", flags.to, "Dead-lettered at or before: RFC 3339 or relative");
  if (redrive) {
    cmd->add_option("--offsets", flags.offsets, "Places on the DLQ topic: P:A-B, P:A- or P:A, comma-separated");
    cmd->add_option("--event-id", flags.event_id, "The event id of the record");
  }
}

} // namespace

} // namespace fte::cli::dlq

namespace fte::cli {

void add_dlq_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* dlq = app.add_subcommand("dlq", "Inspect the dead-letter topic and re-drive its records");
  dlq->require_subcommand(1);
  dlq->footer("The DLQ is <FTE_TOPIC_PREFIX>fte.dlq (FTE_DLQ_TOPIC overrides it); the database is FTE_DATABASE_URL.");

  auto list_flags = std::make_shared<dlq::ListFlags>();
  auto* list_cmd = dlq->add_subcommand(
      "list", "DLQ records grouped by origin topic, consumer group, reason and customer; flags overtaken customers");
  dlq::add_selection_options(list_cmd, list_flags->selection, false);
  list_cmd->add_flag("--all", list_flags->all, "Include resolved records (re-driven and processed), marked so");
  list_cmd->add_flag("--json", list_flags->json, "Print JSON");
  list_cmd->add_option("--timeout-ms", list_flags->timeout_ms, "How long to wait for Kafka")->capture_default_str();
  list_cmd->footer(R"(A record is resolved when its event id is in processed_messages for its group (it was
re-driven and processed). OVERTAKEN counts later records of the same customer on the same
partition that the group processed while this one waits in the DLQ.

Examples:
  fte dlq list
  fte dlq list --reason retries_exhausted --group fte.agent-worker --from -24h
  fte dlq list --customer alice@example.com --all
  fte dlq list --topic fte.tickets.incoming --json)");
  list_cmd->callback(
      [&run, list_flags] { run = [list_flags](const Context& c) { return dlq::list(c, *list_flags); }; });

  auto show_flags = std::make_shared<dlq::ShowFlags>();
  auto* show_cmd = dlq->add_subcommand(
      "show", "One DLQ record: headers, why it failed, where it came from, re-drives, payload pretty-printed");
  show_cmd->add_option("record", show_flags->which, "PARTITION:OFFSET on the DLQ topic, an OFFSET, or an event id")
      ->required();
  show_cmd->add_flag("--json", show_flags->json, "Print JSON");
  show_cmd->add_option("--timeout-ms", show_flags->timeout_ms, "How long to wait for Kafka")->capture_default_str();
  show_cmd->footer(R"(A bare OFFSET found in several DLQ partitions lists them and exits 2.

Examples:
  fte dlq show 3:17
  fte dlq show 17
  fte dlq show 6c1f9a52-3f5e-5b8e-9d0a-2f4f7c1e8b11 --json)");
  show_cmd->callback(
      [&run, show_flags] { run = [show_flags](const Context& c) { return dlq::show(c, *show_flags); }; });

  auto redrive_flags = std::make_shared<dlq::RedriveFlags>();
  auto* redrive_cmd = dlq->add_subcommand(
      "redrive", "Send selected DLQ records back to their origin topic with their original event id (audited)");
  dlq::add_selection_options(redrive_cmd, redrive_flags->selection, true);
  redrive_cmd->add_flag("--all", redrive_flags->all, "Select every DLQ record (no selection flag needed)");
  redrive_cmd->add_flag("--force", redrive_flags->force,
                        "Also re-drive records already processed (dedup makes that harmless)");
  redrive_cmd->add_flag("--yes", redrive_flags->yes, "Do not ask for confirmation (scripts)");
  redrive_cmd->add_flag("--dry-run", redrive_flags->dry_run, "Say what would be re-driven; send nothing");
  redrive_cmd->add_flag("--json", redrive_flags->json, "Print the outcome as JSON (the plan goes to stderr)");
  redrive_cmd->add_option("--timeout-ms", redrive_flags->timeout_ms, "How long to wait for Kafka")
      ->capture_default_str();
  redrive_cmd->footer(R"(Each record goes back to its origin topic and partition with its original key, value and
headers, every dlq.* header removed, redrive.count and redrive.id added; one dlq_redrives row
per record once the broker acknowledged it. Records whose event id their group already
processed are skipped unless --force. Exit 1 when the selection matches nothing.

Examples:
  fte dlq redrive --customer alice@example.com --dry-run
  fte dlq redrive --reason retries_exhausted --group fte.agent-worker --from -2h
  fte dlq redrive --offsets 3:17-20,5:4 --yes
  fte dlq redrive --event-id 6c1f9a52-3f5e-5b8e-9d0a-2f4f7c1e8b11 --force --yes
  fte dlq redrive --all --yes --json)");
  redrive_cmd->callback(
      [&run, redrive_flags] { run = [redrive_flags](const Context& c) { return dlq::redrive(c, *redrive_flags); }; });
}

} // namespace fte::cli
