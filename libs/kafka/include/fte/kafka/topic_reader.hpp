#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fte/common/logging.hpp"
#include "fte/kafka/client_config.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// The offsets [begin, end) of one partition an engineer's tool reads.
struct PartitionSpan {
  std::int32_t partition = 0;
  std::int64_t begin = 0;
  std::int64_t end = 0;

  [[nodiscard]] std::int64_t size() const noexcept { return end > begin ? end - begin : 0; }
};

/// What visit() says after a record: go on, or stop reading this partition
/// (a time range's end reached there).
enum class ReadOn { next, stop_partition };

/// Reads topics outside any consumer group (assign, never commit): what an
/// engineer's tool does to look at a topic without disturbing its consumers.
class TopicReader {
public:
  /// @throws ConfigError
  TopicReader(const ClientSettings& settings, Logger logger, std::chrono::milliseconds timeout);

  /// The topic's partition count. @throws AdminError when the topic does not
  /// exist or Kafka does not answer.
  [[nodiscard]] int partition_count(const std::string& topic);

  /// For each of `partitions` (every partition when empty): from the first
  /// offset written at or after `since` (from the log start when nullopt) to
  /// the end as it is now. A partition with nothing to read has begin == end.
  /// @throws AdminError
  [[nodiscard]] std::vector<PartitionSpan> spans(const std::string& topic,
                                                 std::optional<std::chrono::system_clock::time_point> since,
                                                 const std::vector<std::int32_t>& partitions = {});

  /// Calls `visit` for every record in `spans` of `topic`, in offset order
  /// per partition. @throws AdminError when Kafka does not answer in time.
  void read(const std::string& topic, const std::vector<PartitionSpan>& spans,
            const std::function<ReadOn(const ConsumedRecord&)>& visit);

  /// Calls `visit` for every record of `topic` written at or after `since`
  /// (from the beginning when nullopt) up to the end of each partition as it
  /// was when the call started. @throws AdminError when Kafka does not answer.
  void read_to_end(const std::string& topic, std::optional<std::chrono::system_clock::time_point> since,
                   const std::function<void(const ConsumedRecord&)>& visit);

private:
  ClientSettings settings_;
  Logger logger_;
  std::chrono::milliseconds timeout_;
};

} // namespace fte::kafka
