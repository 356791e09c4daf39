#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "decisions.hpp"
#include "fte/common/text.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/dlq.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"
#include "selection.hpp"

namespace fte::cli {
namespace {

// Headers of the engineers' tools (issue 9; replay semantics in ADR 0013):
// a DLQ record's stable reason code and consumer group, a re-driven
// record's count and run id, a live replay's original event id and replay
// id. Spelled out here until libs/kafka names them all.
constexpr std::string_view kDlqReason = "dlq.reason";
constexpr std::string_view kDlqGroup = "dlq.group";
constexpr std::string_view kRedriveCount = "redrive.count";
constexpr std::string_view kRedriveId = "redrive.id";
constexpr std::string_view kReplayOf = "replay.of";
constexpr std::string_view kReplayId = "replay.id";

struct TraceFlags {
  std::string correlation_id;
  int since_minutes = 24 * 60;
  int timeout_ms = 30'000;
  bool json = false;
};

// The topic records of the correlation id, or why they could not be read.
struct Records {
  std::vector<nlohmann::json> hits; ///< in time order
  std::vector<std::string> missing_topics;
  std::optional<std::string> error;
};

// The table rows, or why they could not be read.
struct Rows {
  std::string database;
  std::vector<Decision> decisions;
  std::optional<std::string> error;
};

nlohmann::json header_or_null(const events::Headers& headers, std::string_view name) {
  const auto value = events::find_header(headers, name);
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json record_json(const kafka::ConsumedRecord& record) {
  nlohmann::json hit = {{"topic", record.topic},
                        {"partition", record.partition},
                        {"offset", record.offset},
                        {"key", record.key.value_or("")},
                        {"timestamp_ms", record.timestamp_ms},
                        {"type", events::find_header(record.headers, events::header::kCeType).value_or("")}};
  const auto parsed = events::parse_event(record.value, record.headers);
  if (const auto* event = std::get_if<events::CloudEvent>(&parsed)) {
    hit["id"] = event->id;
    hit["causation_id"] = event->causationid;
    hit["customer_id"] = event->customerid;
  }
  const auto& h = record.headers;
  if (auto error = events::find_header(h, kafka::dlq_header::kError)) {
    hit["dlq_error"] = *error; // kept: what `--json` always said
    hit["dlq"] = {{"reason", header_or_null(h, kDlqReason)},
                  {"error", *error},
                  {"service", header_or_null(h, kafka::dlq_header::kService)},
                  {"group", header_or_null(h, kDlqGroup)},
                  {"attempts", header_or_null(h, kafka::dlq_header::kAttempts)},
                  {"original_topic", header_or_null(h, kafka::dlq_header::kOriginalTopic)},
                  {"original_partition", header_or_null(h, kafka::dlq_header::kOriginalPartition)},
                  {"original_offset", header_or_null(h, kafka::dlq_header::kOriginalOffset)}};
  }
  if (events::find_header(h, kReplayOf) || events::find_header(h, kReplayId)) {
    hit["replay"] = {{"of", header_or_null(h, kReplayOf)}, {"id", header_or_null(h, kReplayId)}};
  }
  if (events::find_header(h, kRedriveCount) || events::find_header(h, kRedriveId)) {
    hit["redrive"] = {{"count", header_or_null(h, kRedriveCount)}, {"id", header_or_null(h, kRedriveId)}};
  }
  return hit;
}

Records read_records(const Context& context, const TraceFlags& flags) {
  Records out;
  const auto settings = kafka::ClientSettings::from_env(context.env, "fte-cli");
  const auto topics = kafka::TopicNames::from_env(context.env).all();
  const auto timeout = std::chrono::milliseconds(flags.timeout_ms);
  try {
    // One describe first: it tells an unreachable broker from a missing
    // topic (a wrong FTE_TOPIC_PREFIX), which reading alone mixes up.
    std::vector<std::string> present;
    for (const auto& d : kafka::TopicAdmin(settings, context.logger, timeout).describe(topics)) {
      (d.exists ? present : out.missing_topics).push_back(d.name);
    }
    if (present.empty()) {
      out.error = "none of the fte topics exists at Kafka " + settings.bootstrap + " (is FTE_TOPIC_PREFIX right?)";
      return out;
    }
    kafka::TopicReader reader(settings, context.logger, timeout);
    const auto since = std::chrono::system_clock::now() - std::chrono::minutes(flags.since_minutes);
    for (const auto& topic : present) {
      reader.read_to_end(topic, since, [&](const kafka::ConsumedRecord& record) {
        if (events::find_header(record.headers, events::header::kCorrelationId) != flags.correlation_id) return;
        out.hits.push_back(record_json(record));
      });
    }
  } catch (const kafka::AdminError& e) {
    out.error = "Kafka at " + settings.bootstrap + " is not answering (" + e.what() + ")";
  }
  std::stable_sort(out.hits.begin(), out.hits.end(), [](const auto& a, const auto& b) {
    return a["timestamp_ms"].template get<long long>() < b["timestamp_ms"].template get<long long>();
  });
  return out;
}

Rows read_rows(const Context& context, const std::string& correlation_id) {
  const auto url = database_url(context);
  Rows out{database_name_of(url), {}, {}};
  try {
    pqxx::connection connection(url);
    out.decisions = load_decisions(connection, DecisionQuery{{}, {correlation_id}});
  } catch (const std::exception& e) {
    // libpq's message, on one line (it names host and port, never the
    // password a URL may carry).
    std::string message;
    for (const char c : trim(e.what())) {
      const bool space = c == ' ' || c == '\n' || c == '\t';
      if (!space || (!message.empty() && message.back() != ' ')) message.push_back(space ? ' ' : c);
    }
    out.error = std::move(message);
  }
  return out;
}

std::string json_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// The start of a text, quoted on one line. (Not named `quoted`: ADL would
// pick std::quoted for a std::string argument.)
std::string short_quote(std::string_view text, std::size_t max_chars = 60) {
  std::string shown = truncate_utf8(text, max_chars);
  const bool cut = shown.size() < text.size();
  std::replace(shown.begin(), shown.end(), '\n', ' ');
  return "\"" + shown + (cut ? "..." : "") + "\"";
}

std::string format_score(double score) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", score);
  return buffer;
}

void print_records(const Records& records) {
  std::cout << std::left << std::setw(25) << "TIME" << std::setw(32) << "TOPIC" << std::setw(12) << "PART/OFFSET"
            << std::setw(38) << "EVENT ID"
            << "TYPE\n";
  for (const auto& h : records.hits) {
    const auto at =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(h["timestamp_ms"].get<long long>()));
    std::cout << std::setw(25) << format_rfc3339(at) << std::setw(32) << h["topic"].get<std::string>() << std::setw(12)
              << (std::to_string(h["partition"].get<int>()) + "/" + std::to_string(h["offset"].get<long long>()))
              << std::setw(38) << h.value("id", std::string("(not a CloudEvent)")) << h["type"].get<std::string>();
    if (h.contains("replay")) {
      std::cout << "  [REPLAY of " << json_text(h["replay"]["of"]) << ", replay " << json_text(h["replay"]["id"])
                << "]";
    }
    if (h.contains("redrive")) {
      std::cout << "  [REDRIVE #" << json_text(h["redrive"]["count"]) << ", run " << json_text(h["redrive"]["id"])
                << "]";
    }
    std::cout << "\n";
    // A DLQ record is why a message went nowhere: its reason gets a line of its own.
    if (h.contains("dlq")) {
      const auto& d = h["dlq"];
      std::cout << "    !! DLQ reason=" << json_text(d["reason"]) << " service=" << json_text(d["service"])
                << " group=" << json_text(d["group"]) << " attempts=" << json_text(d["attempts"]) << " from "
                << json_text(d["original_topic"]) << " " << json_text(d["original_partition"]) << "/"
                << json_text(d["original_offset"]) << "\n"
                << "       error: " << json_text(d["error"]) << "\n";
    }
  }
}

void print_rows(const Rows& rows, const std::string& correlation_id) {
  std::cout << "\nRows in PostgreSQL (database " << rows.database << "):\n";
  if (rows.error) {
    std::cout << "  could not be read: " << *rows.error << "\n";
    return;
  }
  if (rows.decisions.empty()) {
    std::cout << "  no message with correlation id " << correlation_id
              << " (not stored yet by the agent-worker, or in another database)\n";
    return;
  }
  for (const auto& d : rows.decisions) {
    const auto& in = d.inbound;
    std::cout << "  message " << in.source_event_id << " (" << in.channel << ", customer " << in.customer_id
              << ", stored " << in.stored_at << "): " << to_string(d.outcome) << "\n";
    if (d.ticket) {
      std::cout << "    ticket      " << d.ticket->id << "  status=" << d.ticket->status
                << " priority=" << d.ticket->priority << "\n";
    } else {
      std::cout << "    ticket      (none)\n";
    }
    std::cout << "    inbound     " << in.id << "  status=" << in.status << " sender=" << in.sender << " "
              << short_quote(in.subject ? *in.subject + " / " + in.body : in.body) << "\n";
    if (d.reply) {
      const auto& r = *d.reply;
      std::cout << "    outbound    " << r.id << "  status=" << r.status
                << " provider_message_id=" << r.provider_message_id.value_or("-") << " attempts=" << r.attempts;
      if (r.kb_article_id) {
        std::cout << " kb=#" << *r.kb_article_id << " " << (r.kb_article ? r.kb_article->slug : "(deleted)");
      }
      if (r.kb_score) std::cout << " score=" << format_score(*r.kb_score);
      if (r.last_error) std::cout << " last_error=" << short_quote(*r.last_error);
      std::cout << " " << short_quote(r.body) << "\n";
    } else {
      std::cout << "    outbound    (none)\n";
    }
    for (const auto& e : d.escalations) {
      std::cout << "    escalation  " << e.id << "  reason=" << e.reason << " priority=" << e.priority
                << " status=" << e.status << (e.by_agent ? " (the agent's decision)" : " (after the reply)");
      if (e.reason_detail) std::cout << " detail=" << short_quote(*e.reason_detail, 100);
      std::cout << "\n";
    }
    if (d.escalations.empty() && d.outcome == Outcome::escalated) {
      std::cout << "    escalation  (not recorded yet by the escalation service)\n";
    }
  }
}

int trace(const Context& context, const TraceFlags& flags) {
  if (flags.correlation_id.empty()) throw UsageError("the correlation id is empty");
  const auto records = read_records(context, flags);
  const auto rows = read_rows(context, flags.correlation_id);
  const auto dlq_records = std::count_if(records.hits.begin(), records.hits.end(),
                                         [](const nlohmann::json& h) { return h.contains("dlq"); });

  if (flags.json) {
    nlohmann::json out = {
        {"correlation_id", flags.correlation_id}, {"records", records.hits}, {"rows", {{"database", rows.database}}}};
    if (records.error) out["records_error"] = *records.error;
    if (!records.missing_topics.empty()) out["missing_topics"] = records.missing_topics;
    if (rows.error) {
      out["rows"]["error"] = *rows.error;
    } else {
      out["rows"]["messages"] = nlohmann::json::array();
      for (const auto& d : rows.decisions)
        out["rows"]["messages"].push_back(rows_json(d));
    }
    std::cout << out.dump(2) << "\n";
  } else {
    print_records(records);
    print_rows(rows, flags.correlation_id);
    if (dlq_records > 0) {
      std::cout << "\n" << dlq_records << " record(s) of this correlation id are in the DLQ (marked !! above)\n";
    }
  }

  for (const auto& topic : records.missing_topics)
    std::cerr << "fte: topic " << topic << " does not exist; not read\n";
  // The text output says it among the rows already.
  if (rows.error && flags.json) std::cerr << "fte: the table rows could not be read: " << *rows.error << "\n";
  if (records.error) {
    std::cerr << "fte: " << *records.error << "\n";
    return kExitFailure;
  }
  if (records.hits.empty()) {
    std::cerr << "fte: no record with correlation id " << flags.correlation_id << " in the last " << flags.since_minutes
              << " minutes\n";
    // The rows alone are an answer (the records may be older than the window).
    return rows.decisions.empty() ? kExitFailure : kExitOk;
  }
  return kExitOk;
}

} // namespace

void add_trace_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* cmd = app.add_subcommand(
      "trace", "Follow a correlation id across every fte.* topic, in time order, and show its table rows");
  auto flags = std::make_shared<TraceFlags>();
  cmd->add_option("correlation-id", flags->correlation_id, "The correlation id (the gateway's 202 answer has it)")
      ->required();
  cmd->add_option("--since-minutes", flags->since_minutes, "How far back to look in the topics")
      ->check(CLI::Range(1, 366 * 24 * 60))
      ->capture_default_str();
  cmd->add_option("--timeout-ms", flags->timeout_ms, "How long to wait for Kafka")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();
  cmd->add_flag("--json", flags->json,
                "Print JSON: {\"records\": [...], \"rows\": {\"database\", \"messages\": [...] or \"error\"}}");
  cmd->footer(R"(The topic records carrying the correlation id (DLQ records with their dlq.reason and
dlq.error, replayed and re-driven records marked), then the rows the services stored for
each message of it in PostgreSQL (FTE_DATABASE_URL): ticket, inbound message, outbound
reply (status, knowledge-base article and score, provider message id), escalations.
If the database cannot be read, the records are still printed (exit 0 when there are any).
Exit 1 when nothing is found or Kafka is not answering.

Examples:
  fte trace 3f0c1e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f
  fte trace 3f0c1e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f --since-minutes 10080   # a week back
  fte trace 3f0c1e9a-1b2c-4d5e-8f90-0a1b2c3d4e5f --json | jq '.rows.messages[].outcome'
  FTE_DATABASE_URL=postgresql://fte@db:5432/fte fte trace <correlation-id>)");
  cmd->callback([&run, flags] { run = [flags](const Context& c) { return trace(c, *flags); }; });
}

} // namespace fte::cli
