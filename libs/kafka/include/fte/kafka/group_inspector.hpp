#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"

namespace fte::kafka {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

/// One consumer in a group, as the group coordinator describes it.
struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string host;
  std::optional<std::string> group_instance_id; ///< static membership only
  std::vector<TopicPartition> assignment;
};

struct GroupDescription {
  std::string group;
  /// Stable, Empty, PreparingRebalance, CompletingRebalance, Dead or Unknown.
  std::string state;
  std::vector<GroupMember> members;
};

/// Consumer-group inspection through the Kafka admin API, for `fte lag`: the
/// groups, their committed offsets and members, the topics' end offsets and
/// the creation time of the first record not yet consumed. Reads only: it
/// never joins a group and never commits.
///
/// Every call is bounded by the timeout; when Kafka does not answer within
/// it the AdminError says "Kafka at <bootstrap> is not answering".
class GroupInspector {
public:
  /// @throws ConfigError
  GroupInspector(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout);
  ~GroupInspector();
  GroupInspector(const GroupInspector&) = delete;
  GroupInspector& operator=(const GroupInspector&) = delete;

  /// Partitions of each topic; a topic the cluster does not have is absent.
  /// @throws AdminError
  std::map<std::string, int> partition_counts(const std::vector<std::string>& topics);

  /// Every consumer group the cluster knows (simple groups, which only
  /// commit, included), sorted. @throws AdminError
  std::vector<std::string> list_groups();

  /// Each group's committed offsets: only the partitions it has committed.
  /// Asked for all groups at once. @throws AdminError
  std::map<std::string, std::map<TopicPartition, std::int64_t>>
  committed_offsets(const std::vector<std::string>& groups);

  /// State and members (with their assignments) of each group. @throws AdminError
  std::vector<GroupDescription> describe_groups(const std::vector<std::string>& groups);

  /// The end offset (high watermark, transactions not considered) of each
  /// partition. @throws AdminError
  std::map<TopicPartition, std::int64_t> end_offsets(const std::vector<TopicPartition>& partitions);

  /// The timestamp of the first record at or after each given offset (the
  /// first still in the log, when retention removed that offset), read with
  /// partition assignment only. A partition with no record there within the
  /// timeout is absent. @throws AdminError
  std::map<TopicPartition, std::chrono::system_clock::time_point>
  first_record_times(const std::map<TopicPartition, std::int64_t>& from);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fte::kafka
