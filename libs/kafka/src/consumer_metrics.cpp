#include "consumer_metrics.hpp"

namespace fte::kafka::detail {
namespace {

prometheus::Histogram::BucketBoundaries seconds_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

} // namespace

ConsumerMetrics::ConsumerMetrics(prometheus::Registry& registry)
    : records(prometheus::BuildCounter()
                  .Name("fte_consumer_records_total")
                  .Help("Records finished by the consumer runner, by outcome")
                  .Register(registry)),
      rebalances(prometheus::BuildCounter()
                     .Name("fte_consumer_rebalances_total")
                     .Help("Rebalance events, by kind")
                     .Register(registry)),
      attempts(prometheus::BuildCounter()
                   .Name("fte_consumer_handler_attempts_total")
                   .Help("Handler invocations (a batch counts once), by result")
                   .Register(registry)),
      commits(prometheus::BuildCounter()
                  .Name("fte_consumer_commits_total")
                  .Help("Offset commits, by result")
                  .Register(registry)),
      lag(prometheus::BuildGauge()
              .Name("fte_consumer_lag_records")
              .Help("Records of an assigned partition not finished yet: the last fetched high watermark minus the "
                    "offset the group will commit, by group, topic and partition")
              .Register(registry)),
      attempts_done(attempts.Add({{"result", "done"}})), attempts_retry(attempts.Add({{"result", "retry"}})),
      attempts_poison(attempts.Add({{"result", "poison"}})),
      attempts_unavailable(attempts.Add({{"result", "unavailable"}})), commits_ok(commits.Add({{"result", "ok"}})),
      commits_error(commits.Add({{"result", "error"}})),
      batch_fallbacks(prometheus::BuildCounter()
                          .Name("fte_consumer_batch_fallbacks_total")
                          .Help("Batches that failed whole and were retried record by record")
                          .Register(registry)
                          .Add({})),
      batch_size(prometheus::BuildHistogram()
                     .Name("fte_consumer_batch_size")
                     .Help("Records handed to the handler in one batch")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})),
      record_age(prometheus::BuildHistogram()
                     .Name("fte_consumer_record_age_seconds")
                     .Help("Time from a record's broker timestamp to its dispatch to the handler")
                     .Register(registry)
                     .Add({}, seconds_buckets())),
      handler_seconds(prometheus::BuildHistogram()
                          .Name("fte_consumer_handler_seconds")
                          .Help("Time of one handler call (a whole batch, or one record's attempt)")
                          .Register(registry)
                          .Add({}, seconds_buckets())),
      handle_seconds(prometheus::BuildHistogram()
                         .Name("fte_consumer_handle_seconds")
                         .Help("Time to finish a batch of records, retries included")
                         .Register(registry)
                         .Add({}, seconds_buckets())),
      commit_seconds(prometheus::BuildHistogram()
                         .Name("fte_consumer_offset_commit_seconds")
                         .Help("Time of one synchronous offset commit")
                         .Register(registry)
                         .Add({}, seconds_buckets())) {}

} // namespace fte::kafka::detail
