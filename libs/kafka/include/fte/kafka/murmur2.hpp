#pragma once

#include <cstdint>
#include <string_view>

namespace fte::kafka {

/// Kafka's murmur2 (the Java client's Utils.murmur2, seed 0x9747b28c).
[[nodiscard]] std::uint32_t murmur2(std::string_view key) noexcept;

/// The partition the Java client and librdkafka's `murmur2_random`
/// partitioner choose for a non-null key.
[[nodiscard]] std::int32_t partition_for_key(std::string_view key, std::int32_t partition_count) noexcept;

} // namespace fte::kafka
