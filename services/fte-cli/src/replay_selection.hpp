#pragma once

// Which records a replay takes (issue 9): topics, a time range, offsets, a
// customer (so only the partitions its keys hash to are read) and a
// correlation id, read outside any consumer group.

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "fte/kafka/record.hpp"
#include "fte/kafka/topic_reader.hpp"
#include "progress.hpp"
#include "selection.hpp"

namespace fte::cli {

struct ReplaySelection {
  std::string topic_prefix;                 ///< the deployment's FTE_TOPIC_PREFIX
  std::vector<std::string> contract_topics; ///< without the prefix
  std::optional<std::chrono::system_clock::time_point> from, to;
  std::vector<OffsetRange> offsets; ///< on every selected topic
  std::optional<CustomerKeys> customer;
  std::optional<std::string> correlation_id;
  std::vector<std::string> event_types; ///< CloudEvent `type`s; empty: any

  /// What the audit row records.
  [[nodiscard]] nlohmann::json to_json() const;
};

/// One selected record and what a replay needs to know of it.
struct SelectedRecord {
  kafka::ConsumedRecord record;
  std::string contract_topic;
  std::optional<std::string> event_id; ///< nullopt: not a CloudEvent
};

/// Reads every selected record, topic after topic, each partition in
/// offset order. `scanned` (when given) counts the offsets looked at.
/// @throws UsageError for an inverted time range; AdminError from Kafka.
[[nodiscard]] std::vector<SelectedRecord> select_records(kafka::TopicReader& reader, const ReplaySelection& selection,
                                                         Progress* scanned);

/// The customers the records belong to: the key of a customer-keyed topic,
/// the owner of the email or phone a channel topic is keyed by (unknown
/// identifiers are left out: that customer does not exist yet).
[[nodiscard]] std::set<std::string> customers_of(pqxx::connection& live, const std::vector<SelectedRecord>& records);

} // namespace fte::cli
