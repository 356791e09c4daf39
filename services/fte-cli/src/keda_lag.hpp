#pragma once

// Consumer lag as KEDA's Kafka scaler computes it (kedacore/keda,
// pkg/scalers/kafka_scaler.go: getLagForPartition, getTotalLag), so that
// `fte lag` shows the number KEDA scales on. Only the settings fte's chart
// can use are modelled: no excludePersistentLag (it needs the previous
// poll), limitToPartitionsWithLag, ensureEvenDistributionOfPartitions or
// partitionLimitation.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fte::cli {

/// What lag a partition without a committed offset counts as (the trigger's
/// `offsetResetPolicy`, which should match the consumers' auto.offset.reset).
enum class OffsetResetPolicy { latest, earliest };

[[nodiscard]] std::string_view to_string(OffsetResetPolicy policy) noexcept;

/// The trigger's metadata that changes the number.
struct KedaOptions {
  OffsetResetPolicy offset_reset_policy = OffsetResetPolicy::latest;
  bool scale_to_zero_on_invalid_offset = false;
  bool allow_idle_consumers = false;
  std::int64_t lag_threshold = 100; ///< target lag per replica, > 0
};

/// One partition as the scaler sees it: the group's committed offset (none
/// when it never committed one) and the partition's end offset.
struct PartitionOffsets {
  std::optional<std::int64_t> committed;
  std::int64_t end = 0;
};

/// getLagForPartition: end - committed; without a committed offset 1 with
/// the `latest` policy, the whole end offset with `earliest`, 0 with
/// scale_to_zero_on_invalid_offset.
[[nodiscard]] std::int64_t keda_partition_lag(const PartitionOffsets& offsets, const KedaOptions& options) noexcept;

struct KedaScale {
  std::int64_t total_lag = 0; ///< the sum of the partitions' lags
  /// The value the scaler hands the HPA: total_lag, unless idle consumers
  /// are not allowed and total_lag / lag_threshold (integer division) exceeds
  /// the partition count; then partitions * lag_threshold.
  std::int64_t metric = 0;
  /// What the HPA asks for with the AverageValue target KEDA sets:
  /// ceil(metric / lag_threshold), before min/maxReplicaCount. Because the
  /// cap compares a truncated quotient, this can be one more than the
  /// partition count (12 partitions, threshold 100, lag 1250: 13), exactly
  /// as KEDA behaves.
  std::int64_t replicas = 0;
};

/// getTotalLag for a trigger naming one topic: `partitions` are all of the
/// topic's partitions. @pre options.lag_threshold > 0
[[nodiscard]] KedaScale keda_scale(const std::vector<PartitionOffsets>& partitions,
                                   const KedaOptions& options) noexcept;

} // namespace fte::cli
