#include "fte/kafka/offset_tracker.hpp"

#include <gtest/gtest.h>

namespace fte::kafka {
namespace {

const PartitionKey kP0{"t", 0};
const PartitionKey kP1{"t", 1};

std::int64_t position_of(const OffsetTracker& tracker, const PartitionKey& key) {
  for (const auto& p : tracker.committable({key}))
    return p.offset;
  return -1;
}

TEST(OffsetTracker, CommitsOnlyUpToTheLowestUnfinishedOffset) {
  OffsetTracker tracker;
  tracker.assign(kP0);
  for (std::int64_t o = 10; o < 15; ++o)
    tracker.dispatched(kP0, o);
  tracker.finished(kP0, 12, true);
  tracker.finished(kP0, 13, true);
  EXPECT_EQ(position_of(tracker, kP0), 10); // 10 and 11 still run
  tracker.finished(kP0, 10, true);
  EXPECT_EQ(position_of(tracker, kP0), 11);
  tracker.finished(kP0, 11, true);
  EXPECT_EQ(position_of(tracker, kP0), 14);
  tracker.finished(kP0, 14, true);
  EXPECT_EQ(position_of(tracker, kP0), 15); // one past the highest dispatched
  EXPECT_EQ(tracker.in_flight(), 0);
}

TEST(OffsetTracker, NothingToCommitBeforeAnythingFinishedOrAfterACommit) {
  OffsetTracker tracker;
  tracker.assign(kP0);
  EXPECT_TRUE(tracker.committable().empty()); // nothing dispatched yet
  tracker.dispatched(kP0, 0);
  EXPECT_EQ(position_of(tracker, kP0), 0); // committing 0 before anything finished is harmless
  tracker.finished(kP0, 0, true);
  ASSERT_EQ(tracker.committable().size(), 1U);
  tracker.committed(kP0, 1);
  EXPECT_TRUE(tracker.committable().empty());
}

TEST(OffsetTracker, AnAbandonedRecordHoldsItsPartitionBack) {
  OffsetTracker tracker;
  tracker.assign(kP0);
  tracker.dispatched(kP0, 5);
  tracker.dispatched(kP0, 6);
  tracker.finished(kP0, 5, false); // DLQ unreachable while stopping
  tracker.finished(kP0, 6, true);
  EXPECT_EQ(position_of(tracker, kP0), 5);
  EXPECT_EQ(tracker.in_flight(), 0);
  EXPECT_TRUE(tracker.idle({kP0}));
}

TEST(OffsetTracker, PartitionsAreIndependentAndRevocationForgets) {
  OffsetTracker tracker;
  tracker.assign(kP0);
  tracker.assign(kP1);
  tracker.dispatched(kP0, 1);
  tracker.dispatched(kP1, 7);
  tracker.finished(kP1, 7, true);
  EXPECT_FALSE(tracker.idle({kP0}));
  EXPECT_TRUE(tracker.idle({kP1}));
  EXPECT_EQ(position_of(tracker, kP1), 8);
  tracker.revoke(kP0);
  EXPECT_EQ(tracker.in_flight(), 0);
  tracker.finished(kP0, 1, true); // a late finish of a revoked partition is ignored
  EXPECT_EQ(tracker.in_flight(), 0);
  EXPECT_EQ(tracker.committable().size(), 1U);
}

TEST(OffsetTracker, PositionsListEveryAssignedPartitionEvenUnstarted) {
  OffsetTracker tracker;
  tracker.assign(kP0);
  tracker.assign(kP1);
  tracker.dispatched(kP0, 7);
  tracker.dispatched(kP0, 8);
  tracker.finished(kP0, 8, true); // 7 still runs: the lag counts it
  const auto positions = tracker.positions();
  ASSERT_EQ(positions.size(), 2U);
  EXPECT_EQ(positions[0].key, kP0);
  EXPECT_EQ(positions[0].offset, 7);
  EXPECT_EQ(positions[1].key, kP1);
  EXPECT_EQ(positions[1].offset, -1); // nothing dispatched since its assignment
  tracker.revoke(kP1);
  EXPECT_EQ(tracker.positions().size(), 1U);
}

TEST(PartitionLag, IsTheWatermarkMinusThePositionAndNeverNegative) {
  EXPECT_EQ(partition_lag(120, 20), 100);
  EXPECT_EQ(partition_lag(20, 20), 0);
  EXPECT_EQ(partition_lag(19, 20), 0);             // an older watermark than the position
  EXPECT_FALSE(partition_lag(-1, 20).has_value()); // no fetch answered yet
  EXPECT_FALSE(partition_lag(120, -1).has_value());
}

} // namespace
} // namespace fte::kafka
