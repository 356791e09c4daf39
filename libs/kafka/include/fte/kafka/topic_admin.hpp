#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/handles.hpp"

namespace fte::kafka {

/// How fte's topics are provisioned (ARCHITECTURE.md, Topics).
struct TopicSpec {
  std::string name;
  int partitions = 12;
  int replication_factor = 1;
  int min_insync_replicas = 1;
  std::int64_t retention_ms = 7LL * 24 * 3600 * 1000;

  /// The seven `fte.*` topics with FTE_TOPIC_PARTITIONS,
  /// FTE_TOPIC_REPLICATION_FACTOR, FTE_TOPIC_MIN_ISR, FTE_TOPIC_RETENTION_MS.
  /// @throws ConfigError
  static std::vector<TopicSpec> contract_topics(const Environment& env);
  /// The broker-side configuration a spec sets.
  [[nodiscard]] std::map<std::string, std::string> configs() const;
};

struct TopicDescription {
  std::string name;
  bool exists = false;
  int partitions = 0;
  int replication_factor = 0;
  std::map<std::string, std::string> configs; ///< retention.ms, min.insync.replicas, compression.type, ...
};

struct TopicOutcome {
  enum class State { created, unchanged, fewer_partitions, failed };
  std::string name;
  State state = State::failed;
  std::string detail;
};

/// Kafka did not answer within the bound, or refused an admin request.
class AdminError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Topic provisioning and inspection through the Kafka admin API.
class TopicAdmin {
public:
  /// @throws ConfigError
  TopicAdmin(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout);

  /// Creates the topics that are missing. An existing topic is left alone;
  /// one with fewer partitions than asked is reported, never silently
  /// accepted. @throws AdminError when Kafka does not answer.
  std::vector<TopicOutcome> ensure(const std::vector<TopicSpec>& specs);

  /// @throws AdminError when Kafka does not answer.
  std::vector<TopicDescription> describe(const std::vector<std::string>& names);

  /// Deletes topics (tests clean up with this). @throws AdminError
  void remove(const std::vector<std::string>& names);

  /// Deletes every record now in `topic` (the log start moves to the end;
  /// the topic stays, with its partitions and configuration).
  /// @throws AdminError
  void truncate(const std::string& topic, int partitions);

  /// Deletes consumer groups (their committed offsets); a group that does
  /// not exist is not an error. Returns, per group that could not be
  /// deleted, why (a group with live members cannot be).
  /// @throws AdminError when Kafka does not answer.
  std::map<std::string, std::string> remove_groups(const std::vector<std::string>& groups);

private:
  EventHandle wait_result(QueueHandle& queue, const char* what);

  Logger logger_;
  std::chrono::milliseconds timeout_;
  std::string bootstrap_;
  KafkaHandle handle_;
};

} // namespace fte::kafka
