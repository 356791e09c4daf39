#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fte::kafka {

/// A topic partition, by name and number.
struct PartitionKey {
  std::string topic;
  std::int32_t partition = -1;
  auto operator<=>(const PartitionKey&) const = default;
};

/// The commit rule of the consumer runner, on its own: an offset may be
/// committed only when every record below it in its partition has finished.
/// Records of one partition finish out of order (lanes run different
/// customers in parallel), so the committable position is the lowest offset
/// still unfinished, or one past the highest dispatched when none is.
///
/// Not thread-safe: the runner guards it with its own mutex.
class OffsetTracker {
public:
  /// A partition joins (assignment); any earlier state of it is forgotten.
  void assign(const PartitionKey& key);
  /// A partition leaves (revocation); its pending records no longer count.
  void revoke(const PartitionKey& key);

  /// A record was handed to a lane.
  void dispatched(const PartitionKey& key, std::int64_t offset);
  /// A record left its lane. `done` is false when it was abandoned (its DLQ
  /// write failed while stopping): it stays pending, so nothing at or above
  /// it is committed and Kafka delivers it again.
  void finished(const PartitionKey& key, std::int64_t offset, bool done);

  struct Position {
    PartitionKey key;
    std::int64_t offset; ///< the next offset to consume (Kafka's commit convention)
  };
  /// Positions that moved past what was last committed.
  [[nodiscard]] std::vector<Position> committable() const;
  /// Same, only for `keys`.
  [[nodiscard]] std::vector<Position> committable(const std::vector<PartitionKey>& keys) const;
  /// The broker accepted `offset` for `key`.
  void committed(const PartitionKey& key, std::int64_t offset);

  /// Records dispatched and still in a lane, over all partitions.
  [[nodiscard]] int in_flight() const noexcept { return in_flight_; }
  /// True when none of `keys` has a record still in a lane.
  [[nodiscard]] bool idle(const std::vector<PartitionKey>& keys) const;

private:
  struct Progress {
    std::set<std::int64_t> pending; ///< dispatched and not finished (or abandoned)
    int running = 0;                ///< dispatched and still in a lane
    std::int64_t next_offset = -1;  ///< highest dispatched offset + 1
    std::int64_t committed = -1;
  };
  static std::int64_t position(const Progress& progress);

  std::map<PartitionKey, Progress> partitions_;
  int in_flight_ = 0;
};

} // namespace fte::kafka
