#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dispatch_plan.hpp"
#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topics.hpp"
#include "sender_registry.hpp"

namespace prometheus {
class Registry;
}

namespace fte::agent {

struct DispatcherOptions {
  /// The outbox rows of the dispatcher's escalations are kept under this
  /// name (`outbox.consumer_group`), apart from the consumer's.
  std::string outbox_owner = "fte.agent-worker.replies";
  std::string escalations_topic = "fte.escalations";
  /// Threads sending at once; each holds at most one reply in `sending`.
  int workers = 2;
  /// How often a worker looks for due replies without a notification (the
  /// retries' due times, a lost NOTIFY).
  std::chrono::milliseconds poll_interval{1'000};
  DispatchPolicy policy;
  /// A `sending` row whose dispatcher session is alive is left alone, unless
  /// claimed longer ago than this (a hung process).
  std::chrono::milliseconds send_lease{600'000};
  /// Gauges, the outbox sweep and pruning of kept statuses.
  std::chrono::milliseconds housekeeping_interval{5'000};
  /// Outbox rows older than this are taken as left by a dead process and
  /// republished.
  std::chrono::milliseconds outbox_sweep_age{30'000};
  /// Statuses kept for provider ids no reply ever recorded are deleted
  /// after this long.
  std::chrono::milliseconds kept_status_retention{std::chrono::hours(24 * 7)};

  /// FTE_REPLY_WORKERS, FTE_REPLY_POLL_INTERVAL_MS, FTE_REPLY_MAX_ATTEMPTS,
  /// FTE_REPLY_INITIAL_BACKOFF_MS, FTE_REPLY_MAX_BACKOFF_MS,
  /// FTE_REPLY_RECONCILE_DELAY_MS, FTE_REPLY_MAX_RECONCILE_ATTEMPTS,
  /// FTE_REPLY_SEND_LEASE_MS, FTE_REPLY_KEPT_STATUS_RETENTION_MS.
  /// @throws ConfigError
  static DispatcherOptions from_env(const Environment& env, const kafka::TopicNames& topics,
                                    const std::string& consumer_group);
};

/// Sends the replies the agent-worker committed, at most once each
/// (ADR 0010). Runs beside the consumer in the agent-worker process; every
/// replica runs one and they share the work through row locks.
///
/// A worker claims one due `pending` reply (FOR UPDATE SKIP LOCKED; a
/// conversation's replies in order), marks it `sending` with the attempt
/// and the PostgreSQL session that claimed it, and COMMITs before calling
/// the provider. Then it records what the answer means (dispatch_plan.hpp):
/// sent (provider ids, status, and any delivery status that arrived first),
/// back to pending with backoff, failed, or left in `sending` to reconcile.
/// A `sending` reply whose claimant's session is gone (the process died
/// mid-send), or left after an ambiguous answer, is reconciled — the sender
/// asks the provider — never sent again blindly: found -> sent, provably
/// absent -> pending, cannot tell -> `unknown`. failed and unknown are
/// escalated (fte.escalation.requested.v1, delivery_failed /
/// delivery_unknown) through the transactional outbox: written in the same
/// transaction as the status, published after COMMIT.
///
/// Workers wake on the agent-worker's NOTIFY (a listener on its own
/// connection) and every poll interval.
class ReplyDispatcher {
public:
  /// Opens nothing yet; start() starts the threads.
  ReplyDispatcher(DispatcherOptions options, std::string database_url, const SenderRegistry& senders,
                  kafka::Producer& producer, Logger logger,
                  const std::shared_ptr<prometheus::Registry>& metrics = nullptr);
  /// Stops: no new claims; a provider call in flight finishes and its
  /// outcome is recorded.
  ~ReplyDispatcher();
  ReplyDispatcher(const ReplyDispatcher&) = delete;
  ReplyDispatcher& operator=(const ReplyDispatcher&) = delete;

  /// Starts the workers, the NOTIFY listener and housekeeping.
  void start();

  struct PassReport {
    int sends = 0;           ///< provider calls made to send
    int reconciliations = 0; ///< provider calls made to reconcile
  };
  /// Reconciles and sends everything due now on the calling thread, with
  /// senders of its own, then returns (tests; not while start()ed).
  PassReport run_pass();
  /// Gauges, the outbox sweep, pruning: once, on the calling thread.
  void housekeeping();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fte::agent
