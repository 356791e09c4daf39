#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "fte/common/time.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::cli {
namespace {

struct TraceFlags {
  std::string correlation_id;
  int since_minutes = 24 * 60;
  int timeout_ms = 30'000;
  bool json = false;
};

int trace(const Context& context, const TraceFlags& flags) {
  const auto topics = kafka::TopicNames::from_env(context.env).all();
  kafka::TopicReader reader(kafka::ClientSettings::from_env(context.env, "fte-cli"), context.logger,
                            std::chrono::milliseconds(flags.timeout_ms));
  const auto since = std::chrono::system_clock::now() - std::chrono::minutes(flags.since_minutes);
  std::vector<nlohmann::json> hits;
  for (const auto& topic : topics) {
    reader.read_to_end(topic, since, [&](const kafka::ConsumedRecord& record) {
      if (events::find_header(record.headers, events::header::kCorrelationId) != flags.correlation_id) return;
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
      if (auto error = events::find_header(record.headers, "dlq.error")) hit["dlq_error"] = *error;
      hits.push_back(std::move(hit));
    });
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    return a["timestamp_ms"].template get<long long>() < b["timestamp_ms"].template get<long long>();
  });
  if (flags.json) {
    std::cout << nlohmann::json(hits).dump(2) << "\n";
  } else {
    std::cout << std::left << std::setw(25) << "TIME" << std::setw(32) << "TOPIC" << std::setw(12) << "PART/OFFSET"
              << std::setw(38) << "EVENT ID"
              << "TYPE\n";
    for (const auto& h : hits) {
      const auto at =
          std::chrono::system_clock::time_point(std::chrono::milliseconds(h["timestamp_ms"].get<long long>()));
      std::cout << std::setw(25) << format_rfc3339(at) << std::setw(32) << h["topic"].get<std::string>()
                << std::setw(12)
                << (std::to_string(h["partition"].get<int>()) + "/" + std::to_string(h["offset"].get<long long>()))
                << std::setw(38) << h.value("id", std::string("(not a CloudEvent)")) << h["type"].get<std::string>()
                << (h.contains("dlq_error") ? "  DLQ: " + h["dlq_error"].get<std::string>() : "") << "\n";
    }
  }
  if (hits.empty()) {
    std::cerr << "fte: no record with correlation id " << flags.correlation_id << " in the last " << flags.since_minutes
              << " minutes\n";
    return kExitFailure;
  }
  return kExitOk;
}

} // namespace

void add_trace_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* cmd = app.add_subcommand("trace", "Follow a correlation id across every fte.* topic, in time order");
  auto flags = std::make_shared<TraceFlags>();
  cmd->add_option("correlation-id", flags->correlation_id, "The correlation id (the gateway's 202 answer has it)")
      ->required();
  cmd->add_option("--since-minutes", flags->since_minutes, "How far back to look")->capture_default_str();
  cmd->add_option("--timeout-ms", flags->timeout_ms, "How long to wait for Kafka")->capture_default_str();
  cmd->add_flag("--json", flags->json, "Print JSON");
  cmd->callback([&run, flags] { run = [flags](const Context& c) { return trace(c, *flags); }; });
}

} // namespace fte::cli
