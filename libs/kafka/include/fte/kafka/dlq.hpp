#pragma once

#include <string>
#include <string_view>

#include "fte/kafka/producer.hpp"
#include "fte/kafka/record.hpp"

namespace fte::kafka {

/// Header names a DLQ record carries beside the original ones.
namespace dlq_header {
inline constexpr std::string_view kOriginalTopic = "dlq.original.topic";
inline constexpr std::string_view kOriginalPartition = "dlq.original.partition";
inline constexpr std::string_view kOriginalOffset = "dlq.original.offset";
inline constexpr std::string_view kError = "dlq.error";
inline constexpr std::string_view kAttempts = "dlq.attempts";
inline constexpr std::string_view kService = "dlq.service";
} // namespace dlq_header

/// The DLQ record for `original`: the same key, value and headers, plus the
/// `dlq.*` headers saying where it came from, why it failed, after how many
/// attempts and in which service. The original key keeps the same partition
/// mapping, so a re-drive preserves per-customer order.
[[nodiscard]] ProducerRecord make_dlq_record(const ConsumedRecord& original, std::string_view error, int attempts,
                                             std::string_view service, std::string dlq_topic);

} // namespace fte::kafka
