#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace fte::kafka::detail {

/// The consumer runner's Prometheus series. Label sets are resolved once
/// here: Family::Add hashes and locks, which is not free per record.
struct ConsumerMetrics {
  explicit ConsumerMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& records;
  prometheus::Family<prometheus::Counter>& rebalances;
  prometheus::Family<prometheus::Counter>& attempts;
  prometheus::Family<prometheus::Counter>& commits;
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Counter& attempts_done;
  prometheus::Counter& attempts_retry;
  prometheus::Counter& attempts_poison;
  prometheus::Counter& attempts_unavailable;
  prometheus::Counter& commits_ok;
  prometheus::Counter& commits_error;
  prometheus::Counter& batch_fallbacks;
  prometheus::Histogram& batch_size;
  prometheus::Histogram& record_age;
  prometheus::Histogram& handler_seconds;
  prometheus::Histogram& handle_seconds;
  prometheus::Histogram& commit_seconds;
};

} // namespace fte::kafka::detail
