#include "reply_dispatcher.hpp"

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include <pqxx/pqxx>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "agent_events.hpp"
#include "delivery_status.hpp"
#include "delivery_updates.hpp"
#include "fte/common/ids.hpp"
#include "fte/pg/array_literal.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/outbox.hpp"
#include "fte/runtime/periodic_task.hpp"
#include "reply_escalation.hpp"

namespace fte::agent {
namespace {

using std::chrono::milliseconds;

// What a claim returns, in this order (see Claimed).
#define FTE_REPLY_COLUMNS                                                                                              \
  "m.id::text, m.channel, coalesce(m.recipient, ''), coalesce(m.subject, ''), m.body, "                                \
  "coalesce(m.channel_metadata -> 'inbound', '{}'::jsonb)::text, coalesce(m.correlation_id, ''), m.attempts, "         \
  "m.reconcile_attempts, m.customer_id::text, m.conversation_id::text, coalesce(m.ticket_id::text, ''), "              \
  "coalesce(m.source_event_id, ''), "                                                                                  \
  "coalesce((SELECT i.body FROM messages i WHERE i.direction = 'inbound' AND i.source_event_id = m.source_event_id "   \
  "          LIMIT 1), ''), "                                                                                          \
  "coalesce((SELECT t.priority FROM tickets t WHERE t.id = m.ticket_id), ''), "                                        \
  "coalesce(m.channel_metadata -> 'template', 'null'::jsonb)::text"

// The claimant: this session. A session that no longer exists means the
// process that claimed the row died (pid alone when another role's
// backend_start is hidden from us).
// $3 holds each channel's reconcile delay, in the order of the channels in $1.
#define FTE_CLAIMANT                                                                                                   \
  "claim_token = $2::uuid, claimed_at = now(), claimed_by_pid = pg_backend_pid(), "                                    \
  "claimed_by_backend_start = (SELECT a.backend_start FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()), "       \
  "next_attempt_at = now() + (SELECT c.delay FROM unnest($1::text[], $3::bigint[]) AS c(channel, delay) "              \
  "                           WHERE c.channel = m.channel) * interval '1 millisecond', updated_at = now() "

// The oldest due pending reply of a served channel whose conversation has
// no earlier reply on that channel still waiting, so a customer gets our
// answers in order (and a reply on a channel without a sender holds up no
// other channel's).
// Marked `sending` (and the attempt counted) in this transaction, which
// commits before the provider is called. next_attempt_at becomes the
// earliest time a reconciliation may look at it if this process dies.
constexpr const char* kClaimSend = "dispatch_claim_send";
constexpr const char* kClaimSendSql =
    "WITH due AS (SELECT m.id FROM messages m "
    "  WHERE m.direction = 'outbound' AND m.status = 'pending' AND m.channel = ANY($1::text[]) "
    "    AND coalesce(m.next_attempt_at, m.created_at) <= now() "
    "    AND NOT EXISTS (SELECT 1 FROM messages e WHERE e.conversation_id = m.conversation_id "
    "                    AND e.direction = 'outbound' AND e.channel = m.channel "
    "                    AND e.status IN ('pending', 'sending') "
    "                    AND e.created_at < m.created_at) "
    "  ORDER BY coalesce(m.next_attempt_at, m.created_at), m.created_at LIMIT 1 FOR UPDATE OF m SKIP LOCKED) "
    "UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, " FTE_CLAIMANT
    "FROM due WHERE m.id = due.id RETURNING " FTE_REPLY_COLUMNS;

// A `sending` reply without a provider id that nobody holds: left after an
// ambiguous answer (no claimant), claimed by a session that is gone, or
// claimed longer ago than the lease ($4).
constexpr const char* kClaimReconcile = "dispatch_claim_reconcile";
constexpr const char* kClaimReconcileSql =
    "WITH due AS (SELECT m.id FROM messages m "
    "  WHERE m.direction = 'outbound' AND m.status = 'sending' AND m.provider_message_id IS NULL "
    "    AND m.channel = ANY($1::text[]) AND coalesce(m.next_attempt_at, m.updated_at) <= now() "
    "    AND (m.claimed_by_pid IS NULL OR m.claimed_at < now() - $4::bigint * interval '1 millisecond' "
    "         OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = m.claimed_by_pid "
    "                        AND (a.backend_start IS NULL OR a.backend_start = m.claimed_by_backend_start))) "
    "  ORDER BY m.next_attempt_at LIMIT 1 FOR UPDATE OF m SKIP LOCKED) "
    "UPDATE messages m SET reconcile_attempts = m.reconcile_attempts + 1, " FTE_CLAIMANT
    "FROM due WHERE m.id = due.id RETURNING " FTE_REPLY_COLUMNS;

constexpr const char* kInsertAttempt = "dispatch_insert_attempt";
constexpr const char* kInsertAttemptSql =
    "INSERT INTO reply_attempts (message_id, kind, attempt) VALUES ($1::uuid, $2, $3) RETURNING id";
constexpr const char* kFinishAttempt = "dispatch_finish_attempt";
constexpr const char* kFinishAttemptSql = "UPDATE reply_attempts SET finished_at = clock_timestamp(), outcome = $2, "
                                          "detail = NULLIF($3, '') WHERE id = $1";
constexpr const char* kLockReply = "dispatch_lock_reply";
constexpr const char* kLockReplySql =
    "SELECT status, coalesce(claim_token::text, ''), coalesce(provider_message_id, '') "
    "FROM messages WHERE id = $1::uuid FOR UPDATE";
#define FTE_RELEASE "claim_token = NULL, claimed_at = NULL, claimed_by_pid = NULL, claimed_by_backend_start = NULL, "
constexpr const char* kRecordSent = "dispatch_record_sent";
constexpr const char* kRecordSentSql =
    "UPDATE messages SET status = $2, provider_message_id = $3, sent_at = now(), "
    "channel_metadata = channel_metadata || jsonb_build_object('sent', $4::jsonb), error_code = NULLIF($5, ''), "
    "status_reported_at = NULLIF($6, '')::timestamptz, last_error = NULL, next_attempt_at = NULL, " FTE_RELEASE
    "updated_at = now() WHERE id = $1::uuid";
// $3 < 0: nothing more is due (failed, unknown).
constexpr const char* kRecordState = "dispatch_record_state";
constexpr const char* kRecordStateSql =
    "UPDATE messages SET status = $2, next_attempt_at = CASE WHEN $3::bigint < 0 THEN NULL "
    "ELSE now() + $3::bigint * interval '1 millisecond' END, last_error = NULLIF($4, ''), " FTE_RELEASE
    "updated_at = now() WHERE id = $1::uuid";

constexpr const char* kCountWaiting = "dispatch_count_waiting";
constexpr const char* kCountWaitingSql =
    "SELECT channel, status, count(*) FROM messages WHERE direction = 'outbound' AND status IN ('pending', 'sending') "
    "GROUP BY channel, status";
constexpr const char* kPruneKept = "dispatch_prune_kept";
constexpr const char* kPruneKeptSql =
    "DELETE FROM message_delivery_status WHERE ctid = ANY(ARRAY(SELECT ctid FROM message_delivery_status "
    "WHERE received_at < now() - $1::bigint * interval '1 millisecond' LIMIT 1000))";

#undef FTE_REPLY_COLUMNS
#undef FTE_CLAIMANT
#undef FTE_RELEASE

void prepare_statements(pqxx::connection& c) {
  c.prepare(kClaimSend, kClaimSendSql);
  c.prepare(kClaimReconcile, kClaimReconcileSql);
  c.prepare(kInsertAttempt, kInsertAttemptSql);
  c.prepare(kFinishAttempt, kFinishAttemptSql);
  c.prepare(kLockReply, kLockReplySql);
  c.prepare(kRecordSent, kRecordSentSql);
  c.prepare(kRecordState, kRecordStateSql);
  c.prepare(kCountWaiting, kCountWaitingSql);
  c.prepare(kPruneKept, kPruneKeptSql);
}

// One claimed reply.
struct Claimed {
  replies::OutgoingReply reply;
  UndeliveredReply about;
  int attempts = 0;
  int reconcile_attempts = 0;
  std::string token;
  std::int64_t attempt_row = 0;
};

Claimed claimed_from(const pqxx::row& row) {
  Claimed c;
  c.reply.reply_id = row[0].as<std::string>();
  c.reply.channel = row[1].as<std::string>();
  c.reply.to = row[2].as<std::string>();
  c.reply.subject = row[3].as<std::string>();
  c.reply.body = row[4].as<std::string>();
  c.reply.inbound_metadata = nlohmann::json::parse(row[5].as<std::string>(), nullptr, false);
  if (!c.reply.inbound_metadata.is_object()) c.reply.inbound_metadata = nlohmann::json::object();
  c.reply.correlation_id = row[6].as<std::string>();
  c.attempts = row[7].as<int>();
  c.reconcile_attempts = row[8].as<int>();
  c.about.reply_id = c.reply.reply_id;
  c.about.channel = c.reply.channel;
  c.about.reply_body = c.reply.body;
  c.about.correlation_id = c.reply.correlation_id;
  c.about.customer_id = row[9].as<std::string>();
  c.about.conversation_id = row[10].as<std::string>();
  c.about.ticket_id = row[11].as<std::string>();
  c.about.source_event_id = row[12].as<std::string>();
  c.about.inbound_body = row[13].as<std::string>();
  c.about.ticket_priority = row[14].as<std::string>();
  c.reply.whatsapp_template = nlohmann::json::parse(row[15].as<std::string>(), nullptr, false);
  if (!c.reply.whatsapp_template.is_object()) c.reply.whatsapp_template = nullptr;
  return c;
}

std::string_view outcome_name(replies::SendOutcome outcome) {
  switch (outcome) {
  case replies::SendOutcome::sent: return "sent";
  case replies::SendOutcome::not_sent: return "not_sent";
  case replies::SendOutcome::rejected: return "rejected";
  case replies::SendOutcome::ambiguous: break;
  }
  return "ambiguous";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Wakes the workers when the agent-worker's NOTIFY arrives.
class WakeOnNotify final : public pqxx::notification_receiver {
public:
  WakeOnNotify(pqxx::connection_base& connection, const std::string& channel, std::function<void()> wake)
      : pqxx::notification_receiver(connection, channel), wake_(std::move(wake)) {}
  void operator()(const std::string& /*payload*/, int /*backend_pid*/) override { wake_(); }

private:
  std::function<void()> wake_;
};

} // namespace

DispatcherOptions DispatcherOptions::from_env(const Environment& env, const kafka::TopicNames& topics,
                                              const std::string& consumer_group) {
  DispatcherOptions o;
  o.outbox_owner = consumer_group + ".replies";
  o.escalations_topic = topics.escalations;
  o.workers = static_cast<int>(env.get_int("FTE_REPLY_WORKERS", o.workers, 1, 64));
  o.poll_interval =
      env.get_millis("FTE_REPLY_POLL_INTERVAL_MS", o.poll_interval, milliseconds(10), milliseconds(600'000));
  o.policy.retry.max_attempts =
      static_cast<int>(env.get_int("FTE_REPLY_MAX_ATTEMPTS", o.policy.retry.max_attempts, 1, 1000));
  o.policy.retry.initial_backoff = env.get_millis("FTE_REPLY_INITIAL_BACKOFF_MS", o.policy.retry.initial_backoff,
                                                  milliseconds(1), milliseconds(86'400'000));
  o.policy.retry.max_backoff = env.get_millis("FTE_REPLY_MAX_BACKOFF_MS", o.policy.retry.max_backoff,
                                              o.policy.retry.initial_backoff, milliseconds(86'400'000));
  o.policy.reconcile_delay = env.get_millis("FTE_REPLY_RECONCILE_DELAY_MS", o.policy.reconcile_delay, milliseconds(0),
                                            milliseconds(86'400'000));
  o.policy.max_reconcile_attempts =
      static_cast<int>(env.get_int("FTE_REPLY_MAX_RECONCILE_ATTEMPTS", o.policy.max_reconcile_attempts, 1, 1000));
  o.send_lease = env.get_millis("FTE_REPLY_SEND_LEASE_MS", o.send_lease, milliseconds(1'000), milliseconds(86'400'000));
  o.kept_status_retention = env.get_millis("FTE_REPLY_KEPT_STATUS_RETENTION_MS", o.kept_status_retention,
                                           milliseconds(60'000), milliseconds(3650LL * 86'400'000));
  return o;
}

struct ReplyDispatcher::Impl {
  struct Metrics {
    explicit Metrics(prometheus::Registry& registry)
        : sends(prometheus::BuildCounter()
                    .Name("fte_reply_sends_total")
                    .Help("Provider calls to send a reply, by channel and what the answer meant (sent, not_sent, "
                          "rejected, ambiguous)")
                    .Register(registry)),
          send_seconds(prometheus::BuildHistogram()
                           .Name("fte_reply_send_seconds")
                           .Help("Time of a provider call that sends a reply, by channel")
                           .Register(registry)),
          reconciliations(prometheus::BuildCounter()
                              .Name("fte_reply_reconciliations_total")
                              .Help("Providers asked whether they accepted a reply, by channel and result (found, "
                                    "absent, cannot_tell, error)")
                              .Register(registry)),
          escalations(prometheus::BuildCounter()
                          .Name("fte_reply_escalations_total")
                          .Help("Replies handed to people because they failed or may not have gone out, by reason")
                          .Register(registry)),
          pending(prometheus::BuildGauge()
                      .Name("fte_replies_pending")
                      .Help("Replies waiting to be sent, by channel (the whole database, as every replica sees it)")
                      .Register(registry)),
          sending(prometheus::BuildGauge()
                      .Name("fte_replies_sending")
                      .Help("Replies being sent or waiting to be reconciled, by channel")
                      .Register(registry)),
          configured(prometheus::BuildGauge()
                         .Name("fte_reply_sender_configured")
                         .Help("1 when the channel has a reply sender in this process, 0 when its replies wait")
                         .Register(registry)) {}
    prometheus::Family<prometheus::Counter>& sends;
    prometheus::Family<prometheus::Histogram>& send_seconds;
    prometheus::Family<prometheus::Counter>& reconciliations;
    prometheus::Family<prometheus::Counter>& escalations;
    prometheus::Family<prometheus::Gauge>& pending;
    prometheus::Family<prometheus::Gauge>& sending;
    prometheus::Family<prometheus::Gauge>& configured;
  };

  struct Worker {
    SenderSet senders;
    std::mt19937_64 rng{std::random_device{}()};
    std::unique_ptr<runtime::PeriodicTask> task; // last: stops before the senders go
  };

  Impl(DispatcherOptions o, std::string url, const SenderRegistry& r, kafka::Producer& producer, Logger l,
       const std::shared_ptr<prometheus::Registry>& registry_metrics)
      : options(std::move(o)), database_url(std::move(url)), registry(r), channels(r.channels()), logger(std::move(l)),
        pool(database_url, static_cast<std::size_t>(options.workers) + 2,
             [](pqxx::connection& c) {
               prepare_statements(c);
               runtime::Outbox::prepare(c);
               DeliveryStatusStore::prepare(c);
             }),
        outbox(options.outbox_owner, pool, producer, logger) {
    for (const auto& channel : channels) {
      auto policy = options.policy;
      policy.reconcile_delay = registry.reconcile_delay(channel).value_or(policy.reconcile_delay);
      channel_array.add(channel);
      delay_array.add(static_cast<std::int64_t>(policy.reconcile_delay.count()));
      policies.emplace(channel, policy);
    }
    if (registry_metrics) metrics = std::make_unique<Metrics>(*registry_metrics);
    if (metrics) {
      for (const auto channel : kReplyChannels) {
        metrics->configured.Add({{"channel", std::string(channel)}}).Set(registry.serves(channel) ? 1 : 0);
      }
    }
  }

  std::optional<Claimed> claim(bool reconcile);
  void send(Worker& w, Claimed& c);
  void reconcile(Worker& w, Claimed& c);
  void record_until_done(const Claimed& c, const NextStep& step, const replies::SendResult* accepted,
                         const std::string& detail);
  void record(const Claimed& c, const NextStep& step, const replies::SendResult* accepted, const std::string& detail);
  void escalate(const Claimed& c, std::string_view reason, const std::string& detail, runtime::Outputs& outputs) const;
  PassReport drain(Worker& w);
  void housekeeping();
  void listen();
  void wake_workers() {
    for (auto& w : workers)
      w->task->wake();
  }

  DispatcherOptions options;
  std::string database_url;
  const SenderRegistry& registry;
  std::vector<std::string> channels;
  pg::ArrayLiteral channel_array;
  pg::ArrayLiteral delay_array; ///< each served channel's reconcile delay, as channel_array
  std::map<std::string, DispatchPolicy, std::less<>> policies; ///< by served channel
  [[nodiscard]] const DispatchPolicy& policy_of(std::string_view channel) const {
    const auto it = policies.find(channel);
    return it == policies.end() ? options.policy : it->second;
  }
  Logger logger;
  std::unique_ptr<Metrics> metrics;
  pg::ConnectionPool pool;
  runtime::Outbox outbox; // after the pool: its cleaner uses it until destroyed
  std::atomic<bool> stopping{false};
  std::mutex mutex; // guards warned_unconfigured and the listener's sleep
  std::condition_variable stop_cv;
  std::set<std::string> warned_unconfigured;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<runtime::PeriodicTask> housekeeper;
  std::thread listener;
};

std::optional<Claimed> ReplyDispatcher::Impl::claim(bool reconcile) {
  if (channels.empty()) return std::nullopt;
  auto connection = pool.acquire();
  pqxx::work tx(*connection);
  const auto token = random_uuid();
  const auto rows = reconcile ? tx.exec_prepared(kClaimReconcile, channel_array.str(), token, delay_array.str(),
                                                 static_cast<std::int64_t>(options.send_lease.count()))
                              : tx.exec_prepared(kClaimSend, channel_array.str(), token, delay_array.str());
  if (rows.empty()) return std::nullopt;
  auto c = claimed_from(rows[0]);
  c.token = token;
  c.attempt_row = tx.exec_prepared(kInsertAttempt, c.reply.reply_id, reconcile ? "reconcile" : "send",
                                   reconcile ? c.reconcile_attempts : c.attempts)[0][0]
                      .as<std::int64_t>();
  // The attempt is on record before the provider hears of it: if this
  // process dies during the call, the row says `sending`, not `pending`.
  tx.commit();
  return c;
}

void ReplyDispatcher::Impl::send(Worker& w, Claimed& c) {
  const auto it = w.senders.find(c.reply.channel);
  const auto started = std::chrono::steady_clock::now();
  replies::SendResult result;
  if (it == w.senders.end()) {
    result.outcome = replies::SendOutcome::not_sent;
    result.detail = "no sender for channel " + c.reply.channel + " in this worker";
  } else {
    try {
      result = it->second->send(c.reply);
    } catch (const std::exception& e) {
      // We cannot tell how far the call got.
      result.outcome = replies::SendOutcome::ambiguous;
      result.detail = std::string("the sender failed: ") + e.what();
    }
  }
  const double seconds = seconds_since(started);
  const auto step = after_send(result, c.attempts, policy_of(c.reply.channel), w.rng);
  if (metrics) {
    metrics->sends.Add({{"channel", c.reply.channel}, {"outcome", std::string(outcome_name(result.outcome))}})
        .Increment();
    metrics->send_seconds
        .Add({{"channel", c.reply.channel}},
             prometheus::Histogram::BucketBoundaries{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
        .Observe(seconds);
  }
  logger.log(result.outcome == replies::SendOutcome::sent ? spdlog::level::info : spdlog::level::warn,
             "reply send attempted",
             {{"reply_id", c.reply.reply_id},
              {"correlation_id", c.reply.correlation_id},
              {"channel", c.reply.channel},
              {"attempt", c.attempts},
              {"outcome", outcome_name(result.outcome)},
              {"next", to_string(step.state)},
              {"delay_ms", step.delay.count()},
              {"provider_message_id", result.provider_message_id},
              {"provider_status", result.provider_status},
              {"detail", result.detail},
              {"ms", seconds * 1000.0}});
  record_until_done(c, step, step.state == ReplyState::sent ? &result : nullptr, result.detail);
}

void ReplyDispatcher::Impl::reconcile(Worker& w, Claimed& c) {
  const auto it = w.senders.find(c.reply.channel);
  std::optional<replies::SendResult> found;
  std::string error;
  if (it == w.senders.end()) {
    error = "no sender for channel " + c.reply.channel + " in this worker";
  } else {
    try {
      found = it->second->reconcile(c.reply);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  const auto step = error.empty() ? after_reconcile(found)
                                  : after_reconcile_error(c.reconcile_attempts, policy_of(c.reply.channel), w.rng);
  std::string detail = !error.empty() ? "could not ask the provider: " + error
                       : found        ? found->detail
                                      : "the provider cannot tell whether it accepted the reply";
  if (metrics) {
    metrics->reconciliations.Add({{"channel", c.reply.channel}, {"result", std::string(step.outcome)}}).Increment();
  }
  logger.log(step.state == ReplyState::sent ? spdlog::level::info : spdlog::level::warn, "reply reconciled",
             {{"reply_id", c.reply.reply_id},
              {"correlation_id", c.reply.correlation_id},
              {"channel", c.reply.channel},
              {"reconciliation", c.reconcile_attempts},
              {"result", step.outcome},
              {"next", to_string(step.state)},
              {"provider_message_id", found ? found->provider_message_id : std::string()},
              {"detail", detail}});
  record_until_done(c, step, step.state == ReplyState::sent ? &*found : nullptr, detail);
}

// The provider has answered; losing that answer to a database hiccup would
// leave a sent reply to be reconciled (and, for Twilio, escalated). So keep
// trying; when stopping, for a bounded time, after which the row stays
// `sending` and is reconciled by whoever comes next.
void ReplyDispatcher::Impl::record_until_done(const Claimed& c, const NextStep& step,
                                              const replies::SendResult* accepted, const std::string& detail) {
  auto wait = milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  for (bool warned = false;; warned = true) {
    try {
      record(c, step, accepted, detail);
      return;
    } catch (const std::exception& e) {
      if (stopping && std::chrono::steady_clock::now() - started > std::chrono::seconds(30)) {
        logger.error("could not record a reply's outcome before stopping; it stays sending and will be reconciled",
                     {{"reply_id", c.reply.reply_id}, {"next", to_string(step.state)}, {"error", e.what()}});
        return;
      }
      if (!warned) {
        logger.warn("could not record a reply's outcome; retrying",
                    {{"reply_id", c.reply.reply_id}, {"next", to_string(step.state)}, {"error", e.what()}});
      }
    }
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, milliseconds(5'000));
  }
}

void ReplyDispatcher::Impl::record(const Claimed& c, const NextStep& step, const replies::SendResult* accepted,
                                   const std::string& detail) {
  auto connection = pool.acquire();
  pqxx::work tx(*connection);
  runtime::Outputs outputs;
  const auto finish = [&](const std::string& text) {
    tx.exec_prepared(kFinishAttempt, c.attempt_row, std::string(step.outcome), text);
  };

  if (step.state == ReplyState::sent && accepted != nullptr) {
    const ProviderMessageKey key{registry.provider(c.reply.channel), accepted->provider_message_id};
    // Before reading what is kept for this id: a status writer that has
    // not committed yet is waited for, one that comes later sees our row.
    DeliveryStatusStore::lock(tx, {key});
    const auto row = tx.exec_prepared1(kLockReply, c.reply.reply_id);
    const auto recorded = row[2].as<std::string>();
    if (!recorded.empty()) {
      if (recorded != key.provider_message_id) {
        logger.error(
            "a reply the provider had already accepted was accepted again: the customer may have it twice",
            {{"reply_id", c.reply.reply_id}, {"provider_message_id", recorded}, {"again", key.provider_message_id}});
      }
      finish(detail + " (already recorded)");
      tx.commit();
      return;
    }
    if (row[0].as<std::string>() != "sending" || row[1].as<std::string>() != c.token) {
      // Our claim was taken over (our session looked dead to another
      // dispatcher). Knowing the provider has it beats every other state.
      logger.warn("recording a provider's acceptance after the reply's claim was taken over",
                  {{"reply_id", c.reply.reply_id}, {"status", row[0].as<std::string>()}});
    }
    std::string status = stored_delivery_status(accepted->provider_status).value_or("sent");
    std::string error_code, reported_at;
    if (const auto kept = DeliveryStatusStore::take_kept(tx, key)) {
      if (const auto next = advance_delivery_status(status, kept->status)) status = *next;
      error_code = kept->error_code;
      reported_at = kept->reported_at;
    }
    nlohmann::json sent = {
        {"provider", key.provider}, {"provider_message_id", key.provider_message_id}, {"attempt", c.attempts}};
    if (!accepted->provider_thread_id.empty()) sent["provider_thread_id"] = accepted->provider_thread_id;
    if (!accepted->provider_status.empty()) sent["provider_status"] = accepted->provider_status;
    tx.exec_prepared(kRecordSent, c.reply.reply_id, status, key.provider_message_id, sent.dump(), error_code,
                     reported_at);
    if (is_delivery_failure(status)) {
      escalate(c, kDeliveryFailed, key.provider + " reported " + status, outputs);
    }
  } else {
    const auto row = tx.exec_prepared1(kLockReply, c.reply.reply_id);
    if (row[0].as<std::string>() != "sending" || row[1].as<std::string>() != c.token) {
      logger.warn("a reply's claim was taken over while its provider call ran; this outcome is not recorded",
                  {{"reply_id", c.reply.reply_id},
                   {"status", row[0].as<std::string>()},
                   {"outcome", step.outcome},
                   {"detail", detail}});
      finish(detail + " (claim taken over)");
      tx.commit();
      return;
    }
    const bool due_again = step.state == ReplyState::pending || step.state == ReplyState::sending;
    tx.exec_prepared(kRecordState, c.reply.reply_id, std::string(to_string(step.state)),
                     due_again ? static_cast<std::int64_t>(step.delay.count()) : std::int64_t{-1}, detail);
    if (!step.escalation.empty()) escalate(c, step.escalation, detail, outputs);
  }
  finish(detail);
  outbox.write(tx, outputs);
  tx.commit();
  if (outputs.empty()) return;
  if (const auto failure = outbox.publish(outputs); !failure.empty()) {
    logger.warn("escalation not acknowledged; it stays in the outbox and the sweep republishes it",
                {{"reply_id", c.reply.reply_id}, {"error", failure}});
  }
}

void ReplyDispatcher::Impl::escalate(const Claimed& c, std::string_view reason, const std::string& detail,
                                     runtime::Outputs& outputs) const {
  if (c.about.ticket_id.empty()) {
    logger.error("cannot escalate a reply without a ticket",
                 {{"reply_id", c.reply.reply_id}, {"reason", reason}, {"detail", detail}});
    return;
  }
  // One escalation per reply: the id is derived from the message it answers.
  const auto cause = c.about.source_event_id.empty() ? c.reply.reply_id : c.about.source_event_id;
  auto event = events::make_origin_event(
      derived_event_id(EventId(cause), "reply-dispatcher", "delivery-escalation"), std::string(kAgentSource),
      std::string(kEscalationType),
      undelivered_reply_escalation(c.about, reason, detail, std::chrono::system_clock::now()), c.reply.correlation_id);
  event.customerid = c.about.customer_id;
  event.subject = c.about.customer_id;
  event.causationid = cause;
  outputs.add_event(event.id, options.escalations_topic, c.about.customer_id, event);
  if (metrics) metrics->escalations.Add({{"reason", std::string(reason)}}).Increment();
  logger.warn("reply escalated", {{"reply_id", c.reply.reply_id},
                                  {"correlation_id", c.reply.correlation_id},
                                  {"reason", reason},
                                  {"escalation_event_id", event.id},
                                  {"detail", detail}});
}

ReplyDispatcher::PassReport ReplyDispatcher::Impl::drain(Worker& w) {
  PassReport report;
  while (!stopping) {
    try {
      // Reconciliations first: they hold up their conversations' later replies.
      if (auto c = claim(true)) {
        reconcile(w, *c);
        ++report.reconciliations;
        continue;
      }
      if (auto c = claim(false)) {
        send(w, *c);
        ++report.sends;
        continue;
      }
    } catch (const std::exception& e) {
      logger.warn("reply dispatcher could not claim a reply; will try again", {{"error", e.what()}});
    }
    break;
  }
  return report;
}

void ReplyDispatcher::Impl::housekeeping() {
  try {
    auto connection = pool.acquire();
    pqxx::work tx(*connection);
    std::map<std::string, std::pair<double, double>> waiting; // channel -> (pending, sending)
    for (const auto channel : kReplyChannels)
      waiting[std::string(channel)] = {0, 0};
    for (const auto& row : tx.exec_prepared(kCountWaiting)) {
      auto& [pending, sending] = waiting[row[0].as<std::string>()];
      (row[1].as<std::string>() == "pending" ? pending : sending) = row[2].as<double>();
    }
    tx.exec_prepared(kPruneKept, static_cast<std::int64_t>(options.kept_status_retention.count()));
    auto left = outbox.left_behind(tx, options.outbox_sweep_age, 100);
    tx.commit();

    for (const auto& [channel, counts] : waiting) {
      if (metrics) {
        metrics->pending.Add({{"channel", channel}}).Set(counts.first);
        metrics->sending.Add({{"channel", channel}}).Set(counts.second);
      }
      if (counts.first > 0 && !registry.serves(channel)) {
        std::lock_guard lock(mutex);
        if (warned_unconfigured.insert(channel).second) {
          logger.warn("replies are waiting on a channel with no sender configured; they stay pending until one is",
                      {{"channel", channel}, {"pending", counts.first}});
        }
      }
    }
    if (!left.empty()) {
      const auto events = left.size();
      if (const auto failure = outbox.publish(std::move(left)); !failure.empty()) {
        logger.warn("could not republish escalations left in the outbox", {{"error", failure}});
      } else {
        logger.info("republished escalations left in the outbox", {{"events", events}});
      }
    }
  } catch (const std::exception& e) {
    logger.warn("reply dispatcher housekeeping failed; will try again", {{"error", e.what()}});
  }
}

void ReplyDispatcher::Impl::listen() {
  const std::string channel(kRepliesChannel);
  bool warned = false;
  while (!stopping) {
    try {
      pqxx::connection connection(database_url);
      WakeOnNotify receiver(connection, channel, [this] { wake_workers(); });
      // Anything committed while we were not listening is found by this pass.
      wake_workers();
      if (warned) logger.info("listening for replies again");
      warned = false;
      while (!stopping) {
        connection.await_notification(0, 500'000);
        if (!connection.is_open()) throw std::runtime_error("the notification connection closed");
      }
    } catch (const std::exception& e) {
      if (!warned) {
        logger.warn("cannot listen for replies; polling every interval meanwhile", {{"error", e.what()}});
      }
      warned = true;
      std::unique_lock lock(mutex);
      stop_cv.wait_for(lock, std::chrono::seconds(1), [this] { return stopping.load(); });
    }
  }
}

ReplyDispatcher::ReplyDispatcher(DispatcherOptions options, std::string database_url, const SenderRegistry& senders,
                                 kafka::Producer& producer, Logger logger,
                                 const std::shared_ptr<prometheus::Registry>& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(database_url), senders, producer, std::move(logger),
                                   metrics)) {}

ReplyDispatcher::~ReplyDispatcher() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  if (impl_->listener.joinable()) impl_->listener.join();
  impl_->housekeeper.reset();
  // Each worker finishes the provider call it is in and records it.
  impl_->workers.clear();
}

void ReplyDispatcher::start() {
  auto& impl = *impl_;
  for (int i = 0; i < impl.options.workers; ++i) {
    auto worker = std::make_unique<Impl::Worker>();
    worker->senders = impl.registry.instantiate();
    auto* w = worker.get();
    worker->task = std::make_unique<runtime::PeriodicTask>(impl.options.poll_interval, [&impl, w](bool stopping) {
      if (!stopping) impl.drain(*w);
    });
    impl.workers.push_back(std::move(worker));
  }
  impl.housekeeper =
      std::make_unique<runtime::PeriodicTask>(impl.options.housekeeping_interval, [&impl](bool stopping) {
        if (!stopping) impl.housekeeping();
      });
  impl.listener = std::thread([&impl] { impl.listen(); });
  nlohmann::json delays = nlohmann::json::object();
  for (const auto& [channel, policy] : impl.policies)
    delays[channel] = policy.reconcile_delay.count();
  nlohmann::json unserved = nlohmann::json::array();
  for (const auto channel : kReplyChannels) {
    if (!impl.registry.serves(channel)) unserved.push_back(channel);
  }
  impl.logger.info("reply dispatcher started", {{"channels", impl.channels},
                                                {"not_configured", unserved},
                                                {"workers", impl.options.workers},
                                                {"max_attempts", impl.options.policy.retry.max_attempts},
                                                {"reconcile_delay_ms", delays}});
}

ReplyDispatcher::PassReport ReplyDispatcher::run_pass() {
  Impl::Worker worker;
  worker.senders = impl_->registry.instantiate();
  return impl_->drain(worker);
}

void ReplyDispatcher::housekeeping() { impl_->housekeeping(); }

} // namespace fte::agent
