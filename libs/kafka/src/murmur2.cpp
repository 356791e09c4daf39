#include "fte/kafka/murmur2.hpp"

namespace fte::kafka {

std::uint32_t murmur2(std::string_view key) noexcept {
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto length = static_cast<std::uint32_t>(key.size());
  std::uint32_t h = seed ^ length;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  std::size_t remaining = key.size();
  while (remaining >= 4) {
    std::uint32_t k = static_cast<std::uint32_t>(data[0]) | (static_cast<std::uint32_t>(data[1]) << 8) |
                      (static_cast<std::uint32_t>(data[2]) << 16) | (static_cast<std::uint32_t>(data[3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
    data += 4;
    remaining -= 4;
  }
  switch (remaining) {
  case 3: h ^= static_cast<std::uint32_t>(data[2]) << 16; [[fallthrough]];
  case 2: h ^= static_cast<std::uint32_t>(data[1]) << 8; [[fallthrough]];
  case 1:
    h ^= static_cast<std::uint32_t>(data[0]);
    h *= m;
    break;
  default: break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

std::int32_t partition_for_key(std::string_view key, std::int32_t partition_count) noexcept {
  return static_cast<std::int32_t>((murmur2(key) & 0x7fffffffU) % static_cast<std::uint32_t>(partition_count));
}

} // namespace fte::kafka
