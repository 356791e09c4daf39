#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fte/kafka/client_config.hpp"

namespace fte::kafka {

/// Offset a group has no commit for.
inline constexpr std::int64_t kNoCommittedOffset = -1;

/// The offsets `group` has committed on `topic`'s `partitions` (an
/// OffsetFetch: the group is not joined and its members are not disturbed);
/// kNoCommittedOffset where it has none.
/// @throws AdminError when Kafka does not answer within `timeout`.
[[nodiscard]] std::map<std::int32_t, std::int64_t> committed_offsets(const ClientSettings& settings,
                                                                     const std::string& group, const std::string& topic,
                                                                     const std::vector<std::int32_t>& partitions,
                                                                     std::chrono::milliseconds timeout);

} // namespace fte::kafka
