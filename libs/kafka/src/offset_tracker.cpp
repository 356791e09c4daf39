#include "fte/kafka/offset_tracker.hpp"

#include <algorithm>

namespace fte::kafka {

void OffsetTracker::assign(const PartitionKey& key) {
  if (auto it = partitions_.find(key); it != partitions_.end()) {
    in_flight_ -= it->second.running;
  }
  partitions_[key] = Progress{};
}

void OffsetTracker::revoke(const PartitionKey& key) {
  if (auto it = partitions_.find(key); it != partitions_.end()) {
    in_flight_ -= it->second.running;
    partitions_.erase(it);
  }
}

void OffsetTracker::dispatched(const PartitionKey& key, std::int64_t offset) {
  auto& progress = partitions_[key];
  progress.pending.insert(offset);
  ++progress.running;
  progress.next_offset = std::max(progress.next_offset, offset + 1);
  ++in_flight_;
}

void OffsetTracker::finished(const PartitionKey& key, std::int64_t offset, bool done) {
  auto it = partitions_.find(key);
  if (it == partitions_.end()) {
    return; // revoked meanwhile: the record no longer counts anywhere
  }
  if (done) {
    it->second.pending.erase(offset);
  }
  --it->second.running;
  --in_flight_;
}

std::int64_t OffsetTracker::position(const Progress& progress) {
  return progress.pending.empty() ? progress.next_offset : *progress.pending.begin();
}

std::vector<OffsetTracker::Position> OffsetTracker::committable() const {
  std::vector<Position> out;
  for (const auto& [key, progress] : partitions_) {
    const auto at = position(progress);
    if (at >= 0 && at > progress.committed) out.push_back({key, at});
  }
  return out;
}

std::vector<OffsetTracker::Position> OffsetTracker::committable(const std::vector<PartitionKey>& keys) const {
  std::vector<Position> out;
  for (const auto& key : keys) {
    if (auto it = partitions_.find(key); it != partitions_.end()) {
      const auto at = position(it->second);
      if (at >= 0 && at > it->second.committed) out.push_back({key, at});
    }
  }
  return out;
}

std::vector<OffsetTracker::Position> OffsetTracker::positions() const {
  std::vector<Position> out;
  out.reserve(partitions_.size());
  for (const auto& [key, progress] : partitions_) {
    out.push_back({key, position(progress)});
  }
  return out;
}

void OffsetTracker::committed(const PartitionKey& key, std::int64_t offset) {
  if (auto it = partitions_.find(key); it != partitions_.end()) {
    it->second.committed = std::max(it->second.committed, offset);
  }
}

bool OffsetTracker::idle(const std::vector<PartitionKey>& keys) const {
  return std::none_of(keys.begin(), keys.end(), [&](const PartitionKey& key) {
    const auto it = partitions_.find(key);
    return it != partitions_.end() && it->second.running > 0;
  });
}

std::optional<std::int64_t> partition_lag(std::int64_t high_watermark, std::int64_t position) noexcept {
  if (high_watermark < 0 || position < 0) {
    return std::nullopt;
  }
  // The watermark is the last one fetched, so it can trail a position that
  // a newer fetch already moved past: that is no lag, not a negative one.
  return std::max<std::int64_t>(0, high_watermark - position);
}

} // namespace fte::kafka
