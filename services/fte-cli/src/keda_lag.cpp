#include "keda_lag.hpp"

namespace fte::cli {

std::string_view to_string(OffsetResetPolicy policy) noexcept {
  return policy == OffsetResetPolicy::earliest ? "earliest" : "latest";
}

std::int64_t keda_partition_lag(const PartitionOffsets& offsets, const KedaOptions& options) noexcept {
  if (!offsets.committed) {
    if (options.scale_to_zero_on_invalid_offset) return 0;
    // `latest`: a consumer would start at the end, but one replica is still
    // wanted so that it starts and commits. `earliest`: it would read it all.
    return options.offset_reset_policy == OffsetResetPolicy::latest ? 1 : offsets.end;
  }
  // Not clamped at zero, as in KEDA; fte reads the committed offsets before
  // the end offsets, so it cannot see a commit beyond the end.
  return offsets.end - *offsets.committed;
}

KedaScale keda_scale(const std::vector<PartitionOffsets>& partitions, const KedaOptions& options) noexcept {
  KedaScale scale;
  for (const auto& p : partitions)
    scale.total_lag += keda_partition_lag(p, options);
  scale.metric = scale.total_lag;
  const auto count = static_cast<std::int64_t>(partitions.size());
  if (!options.allow_idle_consumers && scale.total_lag / options.lag_threshold > count) {
    scale.metric = count * options.lag_threshold;
  }
  scale.replicas = scale.metric <= 0 ? 0 : (scale.metric + options.lag_threshold - 1) / options.lag_threshold;
  return scale;
}

} // namespace fte::cli
