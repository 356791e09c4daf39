// The lag arithmetic of KEDA's Kafka scaler (pkg/scalers/kafka_scaler.go),
// case by case, as `fte lag` reports it.
#include "keda_lag.hpp"

#include <gtest/gtest.h>

namespace fte::cli {
namespace {

KedaOptions with_threshold(std::int64_t threshold) {
  KedaOptions options;
  options.lag_threshold = threshold;
  return options;
}

std::vector<PartitionOffsets> partitions_with_lag(const std::vector<std::int64_t>& lags) {
  std::vector<PartitionOffsets> partitions;
  for (const auto lag : lags)
    partitions.push_back({1000, 1000 + lag});
  return partitions;
}

TEST(KedaPartitionLag, IsTheEndMinusTheCommittedOffset) {
  const KedaOptions options;
  EXPECT_EQ(keda_partition_lag({40, 100}, options), 60);
  EXPECT_EQ(keda_partition_lag({100, 100}, options), 0);
  EXPECT_EQ(keda_partition_lag({0, 0}, options), 0);
}

TEST(KedaPartitionLag, WithoutACommitCountsOneWithTheLatestPolicy) {
  KedaOptions options;
  EXPECT_EQ(keda_partition_lag({std::nullopt, 500}, options), 1);
  EXPECT_EQ(keda_partition_lag({std::nullopt, 0}, options), 1) << "even on an empty partition: KEDA wants a replica";
  options.scale_to_zero_on_invalid_offset = true;
  EXPECT_EQ(keda_partition_lag({std::nullopt, 500}, options), 0);
}

TEST(KedaPartitionLag, WithoutACommitCountsTheEndOffsetWithTheEarliestPolicy) {
  KedaOptions options;
  options.offset_reset_policy = OffsetResetPolicy::earliest;
  // The end offset itself, not end minus the log start: KEDA does not look
  // at what retention has already removed.
  EXPECT_EQ(keda_partition_lag({std::nullopt, 500}, options), 500);
  EXPECT_EQ(keda_partition_lag({std::nullopt, 0}, options), 0);
  EXPECT_EQ(keda_partition_lag({20, 500}, options), 480) << "a committed offset is used as it is";
  options.scale_to_zero_on_invalid_offset = true;
  EXPECT_EQ(keda_partition_lag({std::nullopt, 500}, options), 0);
}

TEST(KedaScale, SumsThePartitionsAndAsksForOneReplicaPerThreshold) {
  const auto scale = keda_scale(partitions_with_lag({10, 0, 35, 5}), with_threshold(20));
  EXPECT_EQ(scale.total_lag, 50);
  EXPECT_EQ(scale.metric, 50);
  EXPECT_EQ(scale.replicas, 3);
}

TEST(KedaScale, RoundsTheReplicasUp) {
  const auto scale = keda_scale(partitions_with_lag({101, 0, 0, 0}), with_threshold(100));
  EXPECT_EQ(scale.metric, 101);
  EXPECT_EQ(scale.replicas, 2);
}

TEST(KedaScale, NoLagAsksForNoReplica) {
  const auto scale = keda_scale(partitions_with_lag({0, 0, 0}), with_threshold(100));
  EXPECT_EQ(scale.total_lag, 0);
  EXPECT_EQ(scale.metric, 0);
  EXPECT_EQ(scale.replicas, 0);
}

TEST(KedaScale, CapsTheMetricAtPartitionsTimesThreshold) {
  // 3 partitions, threshold 100, lag 1000: 1000/100 = 10 > 3, so KEDA
  // reports 300 and the HPA asks for 3.
  const auto scale = keda_scale(partitions_with_lag({1000, 0, 0}), with_threshold(100));
  EXPECT_EQ(scale.total_lag, 1000);
  EXPECT_EQ(scale.metric, 300);
  EXPECT_EQ(scale.replicas, 3);
}

TEST(KedaScale, TheCapComparesATruncatedQuotientAsKedaDoes) {
  // 12 partitions, threshold 100, lag 1250: 1250/100 is 12 in integer
  // arithmetic, not more than 12, so KEDA leaves the metric at 1250 and the
  // HPA asks for ceil(12.5) = 13 replicas, one more than the partitions.
  std::vector<std::int64_t> lags(12, 0);
  lags[0] = 1250;
  const auto scale = keda_scale(partitions_with_lag(lags), with_threshold(100));
  EXPECT_EQ(scale.metric, 1250);
  EXPECT_EQ(scale.replicas, 13);
  lags[0] = 1300; // 13 > 12: capped
  EXPECT_EQ(keda_scale(partitions_with_lag(lags), with_threshold(100)).metric, 1200);
}

TEST(KedaScale, AllowingIdleConsumersRemovesTheCap) {
  auto options = with_threshold(100);
  options.allow_idle_consumers = true;
  const auto scale = keda_scale(partitions_with_lag({1000, 0, 0}), options);
  EXPECT_EQ(scale.metric, 1000);
  EXPECT_EQ(scale.replicas, 10);
}

TEST(KedaScale, PartitionsWithoutACommitCountByThePolicy) {
  const std::vector<PartitionOffsets> partitions = {{30, 50}, {std::nullopt, 70}, {std::nullopt, 0}};
  KedaOptions latest;
  EXPECT_EQ(keda_scale(partitions, latest).total_lag, 20 + 1 + 1);
  KedaOptions earliest;
  earliest.offset_reset_policy = OffsetResetPolicy::earliest;
  EXPECT_EQ(keda_scale(partitions, earliest).total_lag, 20 + 70 + 0);
  KedaOptions to_zero;
  to_zero.scale_to_zero_on_invalid_offset = true;
  EXPECT_EQ(keda_scale(partitions, to_zero).total_lag, 20);
  EXPECT_EQ(keda_scale(partitions, to_zero).replicas, 1);
}

TEST(KedaScale, AGroupThatNeverCommittedAsksForOneReplicaPerPartitionAtMost) {
  // A new consumer group on a 12-partition topic, threshold 100: 12 x 1 = 12,
  // so one replica starts and commits.
  const std::vector<PartitionOffsets> partitions(12, PartitionOffsets{std::nullopt, 5000});
  const auto scale = keda_scale(partitions, with_threshold(100));
  EXPECT_EQ(scale.total_lag, 12);
  EXPECT_EQ(scale.replicas, 1);
}

} // namespace
} // namespace fte::cli
