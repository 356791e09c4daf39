#pragma once

#include <cstdint>
#include <map>
#include <optional>
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
  /// Every assigned partition with the offset consumption has reached (what
  /// the next commit would write), or -1 while nothing was dispatched since
  /// its assignment.
  [[nodiscard]] std::vector<Position> positions() const;
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

/// Records of a partition the group has not finished: the high watermark
/// minus the position it will commit. Counting from that position rather than
/// from what was fetched keeps it honest the way KEDA's lag is (records in a
/// lane are not done). Nullopt when either side is unknown (negative).
[[nodiscard]] std::optional<std::int64_t> partition_lag(std::int64_t high_watermark, std::int64_t position) noexcept;

} // namespace fte::kafka
