#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// The records of one partition from `first` up to `end` (excluded); `end`
/// nullopt: up to the partition's end as it was when the read started.
struct PartitionSpan {
  std::int32_t partition = 0;
  std::int64_t first = 0;
  std::optional<std::int64_t> end;
};

/// A partition's low and high watermarks: its records are [low, high).
struct PartitionWatermarks {
  std::int32_t partition = 0;
  std::int64_t low = 0;
  std::int64_t high = 0;
};

/// Reads topics outside any consumer group (assign, never commit): what an
/// engineer's tool does to look at a topic without disturbing its consumers.
class TopicReader {
public:
  /// @throws ConfigError
  TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout);

  /// Calls `visit` for every record of `topic` written at or after `since`
  /// (from the beginning when nullopt) up to the end of each partition as it
  /// was when the call started. @throws AdminError when Kafka does not answer.
  void read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                   const std::function<void(const ConsumedRecord&)>& visit);

  /// Calls `visit` for every record in `spans` of `topic`, in offset order
  /// per partition. A span starting below the partition's low watermark
  /// starts there (retention removed the rest).
  /// @throws AdminError when Kafka does not answer or the topic does not exist.
  void read_spans(const std::string& topic, const std::vector<PartitionSpan>& spans,
                  const std::function<void(const ConsumedRecord&)>& visit);

  /// Every partition of `topic` with its watermarks, by partition number.
  /// @throws AdminError when Kafka does not answer or the topic does not exist.
  [[nodiscard]] std::vector<PartitionWatermarks> watermarks(const std::string& topic);

  /// The offsets `group` has committed on `topic`, by partition; a partition
  /// it never committed on is absent. Reads only (OffsetFetch): the reader
  /// never joins the group. @throws AdminError when Kafka does not answer.
  [[nodiscard]] std::map<std::int32_t, std::int64_t> committed_offsets(const std::string& group,
                                                                       const std::string& topic);

private:
  ClientSettings settings_;
  Logger logger_;
  std::chrono::milliseconds timeout_;
};

} // namespace fte::kafka
