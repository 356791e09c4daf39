#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/exactly_once.hpp"
#include "fte/runtime/service.hpp"

namespace fte::runtime {

/// The default PostgreSQL URL of every fte process (FTE_DATABASE_URL).
inline constexpr std::string_view kDefaultDatabaseUrl = "postgresql://fte@127.0.0.1:15432/fte";

/// What a consuming service is, beyond the shape they all share.
struct ConsumerServiceSpec {
  std::string name;               ///< e.g. "channel-normalizer"
  std::string_view admin_address; ///< default FTE_ADMIN_ADDR
  std::vector<std::string> (*input_topics)(const kafka::TopicNames& topics) = nullptr;
  std::vector<std::string> accepted_types; ///< any other type goes to the DLQ at once
  /// Builds the domain logic once configuration is read.
  std::function<std::unique_ptr<DomainHandler>(Service& service, const kafka::TopicNames& topics)> make_domain;
  /// Optional: starts something beside the consumer (escalation's HTTP API)
  /// after the admin listener is up; returns the action that stops it.
  std::function<std::function<void()>(Service& service)> start_beside;
};

/// How long processed_messages keeps an id: FTE_DEDUP_RETENTION_MS, by
/// default the topics' retention (FTE_TOPIC_RETENTION_MS) plus one day, so
/// no redelivery or replay within retention can slip past dedup.
/// @throws ConfigError
[[nodiscard]] std::chrono::milliseconds dedup_retention_from_env(const Environment& env);

/// The whole main() of a consuming service: configuration, the producer
/// (outputs and the DLQ), a PostgreSQL pool with prepared statements, the
/// proto/ validator, the batched consumer runner with the exactly-once
/// handler around the domain, the dedup pruner, readiness (assigned and a
/// broker reachable) and SIGTERM (stop polling, drain, commit, leave the
/// group, flush the producer). Returns the process exit code.
int consumer_service_main(const ConsumerServiceSpec& spec);

} // namespace fte::runtime
