#include <iomanip>
#include <iostream>

#include "commands.hpp"
#include "fte/kafka/topic_admin.hpp"
#include "fte/kafka/topics.hpp"

namespace fte::cli {
namespace {

struct TopicFlags {
  std::map<std::string, std::string> overrides;
  int timeout_ms = 30'000;
  bool json = false;
};

kafka::TopicAdmin make_admin(const Context& context, const TopicFlags& flags) {
  return kafka::TopicAdmin(kafka::ClientSettings::from_env(context.env, "fte-cli"), context.logger,
                           std::chrono::milliseconds(flags.timeout_ms));
}

int create(const Context& context, const TopicFlags& flags) {
  const auto env = context.env.with(flags.overrides);
  const auto specs = kafka::TopicSpec::contract_topics(env);
  auto admin = make_admin(context, flags);
  int exit_code = kExitOk;
  for (const auto& outcome : admin.ensure(specs)) {
    const char* state = "";
    switch (outcome.state) {
    case kafka::TopicOutcome::State::created: state = "created"; break;
    case kafka::TopicOutcome::State::unchanged: state = "exists"; break;
    case kafka::TopicOutcome::State::fewer_partitions:
      state = "PARTITIONS";
      exit_code = std::max(exit_code, kExitFewerPartitions);
      break;
    case kafka::TopicOutcome::State::failed:
      state = "FAILED";
      exit_code = kExitFailure;
      break;
    }
    std::cout << std::left << std::setw(11) << state << std::setw(32) << outcome.name << outcome.detail << "\n";
  }
  if (exit_code == kExitFewerPartitions) {
    std::cerr << "fte: some topics have fewer partitions than wanted (see above)\n";
  }
  return exit_code == kExitFewerPartitions ? kExitFewerPartitions : exit_code;
}

int describe(const Context& context, const TopicFlags& flags) {
  const auto names = kafka::TopicNames::from_env(context.env).all();
  auto admin = make_admin(context, flags);
  const auto descriptions = admin.describe(names);
  if (flags.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : descriptions) {
      out.push_back({{"name", d.name},
                     {"exists", d.exists},
                     {"partitions", d.partitions},
                     {"replication_factor", d.replication_factor},
                     {"configs", d.configs}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << std::left << std::setw(32) << "TOPIC" << std::setw(12) << "PARTITIONS" << std::setw(13)
              << "REPLICATION" << std::setw(9) << "MIN_ISR" << std::setw(15) << "RETENTION_MS"
              << "COMPRESSION\n";
    for (const auto& d : descriptions) {
      if (!d.exists) {
        std::cout << std::setw(32) << d.name << "(missing)\n";
        continue;
      }
      auto config = [&](const char* key) { return d.configs.contains(key) ? d.configs.at(key) : "?"; };
      std::cout << std::setw(32) << d.name << std::setw(12) << d.partitions << std::setw(13) << d.replication_factor
                << std::setw(9) << config("min.insync.replicas") << std::setw(15) << config("retention.ms")
                << config("compression.type") << "\n";
    }
  }
  for (const auto& d : descriptions) {
    if (!d.exists) return kExitFailure;
  }
  return kExitOk;
}

} // namespace

void add_topics_command(CLI::App& app, std::function<int(const Context&)>& run) {
  auto* topics = app.add_subcommand("topics", "Provision and inspect the fte.* topics");
  topics->require_subcommand(1);
  topics->fallthrough(); // `fte topics describe --timeout-ms 5000` as well as `fte topics --timeout-ms 5000 describe`
  auto flags = std::make_shared<TopicFlags>();
  topics->add_option("--timeout-ms", flags->timeout_ms, "How long to wait for Kafka")->capture_default_str();

  auto* create_cmd = topics->add_subcommand("create", "Create the contract's fte.* topics that are missing");
  create_cmd->add_option_function<int>(
      "--partitions", [flags](int v) { flags->overrides["FTE_TOPIC_PARTITIONS"] = std::to_string(v); },
      "Partitions per topic (FTE_TOPIC_PARTITIONS, default 12)");
  create_cmd->add_option_function<int>(
      "--replication-factor", [flags](int v) { flags->overrides["FTE_TOPIC_REPLICATION_FACTOR"] = std::to_string(v); },
      "Replication factor (FTE_TOPIC_REPLICATION_FACTOR, default 1; 3 in production)");
  create_cmd->add_option_function<int>(
      "--min-isr", [flags](int v) { flags->overrides["FTE_TOPIC_MIN_ISR"] = std::to_string(v); },
      "min.insync.replicas (FTE_TOPIC_MIN_ISR, default 1; 2 in production)");
  create_cmd->add_option_function<long long>(
      "--retention-ms", [flags](long long v) { flags->overrides["FTE_TOPIC_RETENTION_MS"] = std::to_string(v); },
      "retention.ms (FTE_TOPIC_RETENTION_MS, default 7 days)");
  create_cmd->callback([&run, flags] { run = [flags](const Context& c) { return create(c, *flags); }; });

  auto* describe_cmd = topics->add_subcommand("describe", "Show the fte.* topics as the broker has them");
  describe_cmd->add_flag("--json", flags->json, "Print JSON");
  describe_cmd->callback([&run, flags] { run = [flags](const Context& c) { return describe(c, *flags); }; });
}

} // namespace fte::cli
