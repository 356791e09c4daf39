#include "delivery_updates.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "agent_events.hpp"
#include "delivery_status.hpp"
#include "fte/pg/array_literal.hpp"
#include "reply_escalation.hpp"

namespace fte::agent {
namespace {

// Advisory locks in their own two-key space (PostgreSQL keeps it apart from
// single-key locks such as the migrator's); the class id spells "dlvr".
constexpr std::int32_t kLockClass = 0x646c7672;
constexpr const char* kLock = "agent_delivery_lock";
constexpr const char* kLockSql =
    "SELECT count(pg_advisory_xact_lock($1::int, k)) FROM "
    "(SELECT DISTINCT hashtext(key) AS k FROM unnest($2::text[]) AS u(key) ORDER BY 1 OFFSET 0) s";
constexpr const char* kTakeKept = "agent_delivery_take_kept";
constexpr const char* kTakeKeptSql =
    "DELETE FROM message_delivery_status WHERE provider = $1 AND provider_message_id = $2 "
    "RETURNING status, coalesce(error_code, ''), coalesce(to_char(reported_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')";

// The replies the batch's statuses name, locked, with what an escalation needs.
constexpr const char* kFindReplies = "agent_delivery_find_replies";
constexpr const char* kFindRepliesSql =
    "SELECT m.provider_message_id, m.id::text, m.status, coalesce(m.error_code, ''), m.customer_id::text, "
    "m.conversation_id::text, coalesce(m.ticket_id::text, ''), m.channel, coalesce(m.source_event_id, ''), "
    "coalesce(m.correlation_id, ''), m.body, "
    "coalesce((SELECT i.body FROM messages i WHERE i.direction = 'inbound' AND i.source_event_id = m.source_event_id "
    "          LIMIT 1), ''), "
    "coalesce((SELECT t.priority FROM tickets t WHERE t.id = m.ticket_id), '') "
    "FROM messages m WHERE m.direction = 'outbound' AND m.provider_message_id = ANY($1::text[]) "
    "ORDER BY m.id FOR UPDATE OF m";
constexpr const char* kFindKept = "agent_delivery_find_kept";
constexpr const char* kFindKeptSql =
    "SELECT provider, provider_message_id, status, coalesce(error_code, '') FROM message_delivery_status "
    "WHERE (provider, provider_message_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
    "ORDER BY provider, provider_message_id FOR UPDATE";
constexpr const char* kUpdateReplies = "agent_delivery_update_replies";
constexpr const char* kUpdateRepliesSql =
    "UPDATE messages m SET status = u.status, error_code = NULLIF(u.error_code, ''), "
    "status_reported_at = u.reported_at, updated_at = clock_timestamp() "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) AS u(id, status, error_code, reported_at) "
    "WHERE m.id = u.id";
constexpr const char* kKeep = "agent_delivery_keep";
constexpr const char* kKeepSql =
    "INSERT INTO message_delivery_status (provider, provider_message_id, status, error_code, reported_at, "
    "source_event_id) SELECT p, s, st, NULLIF(ec, ''), r, src "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) "
    "AS k(p, s, st, ec, r, src) "
    "ON CONFLICT (provider, provider_message_id) DO UPDATE SET status = EXCLUDED.status, "
    "error_code = EXCLUDED.error_code, reported_at = EXCLUDED.reported_at, source_event_id = EXCLUDED.source_event_id";

std::string lock_key(const ProviderMessageKey& key) { return key.provider + ":" + key.provider_message_id; }

struct Update {
  const kafka::Delivery* delivery;
  ProviderMessageKey key;
  std::string status; ///< stored form
  std::string error_code;
  std::string reported_at;
};

struct Reply {
  UndeliveredReply about;
  std::string status;
  std::string error_code;
  std::string reported_at;
  bool changed = false;
  const kafka::Delivery* failed_by = nullptr; ///< the update that made it failed/undelivered
  std::string failure_detail;
};

struct Kept {
  KeptStatus status;
  std::string source_event_id;
  bool changed = false;
};

} // namespace

void DeliveryStatusStore::prepare(pqxx::connection& connection) {
  connection.prepare(kLock, kLockSql);
  connection.prepare(kTakeKept, kTakeKeptSql);
}

void DeliveryStatusStore::lock(pqxx::work& tx, std::vector<ProviderMessageKey> keys) {
  if (keys.empty()) return;
  pg::ArrayLiteral array;
  for (const auto& key : keys)
    array.add(lock_key(key));
  tx.exec_prepared(kLock, kLockClass, array.str());
}

std::optional<KeptStatus> DeliveryStatusStore::take_kept(pqxx::work& tx, const ProviderMessageKey& key) {
  const auto rows = tx.exec_prepared(kTakeKept, key.provider, key.provider_message_id);
  if (rows.empty()) return std::nullopt;
  return KeptStatus{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), rows[0][2].as<std::string>()};
}

struct DeliveryUpdates::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : family(prometheus::BuildCounter()
                   .Name("fte_delivery_status_updates_total")
                   .Help("Provider delivery statuses by what they did: applied to a reply, ignored (not forward, "
                         "or not about a message we sent), kept until the reply's provider id is recorded")
                   .Register(registry)),
        applied(family.Add({{"result", "applied"}})), ignored(family.Add({{"result", "ignored"}})),
        kept(family.Add({{"result", "kept"}})) {}
  prometheus::Family<prometheus::Counter>& family;
  prometheus::Counter& applied;
  prometheus::Counter& ignored;
  prometheus::Counter& kept;
};

DeliveryUpdates::DeliveryUpdates(std::string escalations_topic, const std::shared_ptr<prometheus::Registry>& metrics)
    : escalations_topic_(std::move(escalations_topic)) {
  if (metrics) metrics_ = std::make_unique<Metrics>(*metrics);
}

DeliveryUpdates::~DeliveryUpdates() = default;

void DeliveryUpdates::prepare(pqxx::connection& connection) {
  DeliveryStatusStore::prepare(connection);
  connection.prepare(kFindReplies, kFindRepliesSql);
  connection.prepare(kFindKept, kFindKeptSql);
  connection.prepare(kUpdateReplies, kUpdateRepliesSql);
  connection.prepare(kKeep, kKeepSql);
}

void DeliveryUpdates::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> deliveries,
                            runtime::Outputs& outputs) const {
  std::vector<Update> updates;
  std::size_t ignored = 0;
  for (const auto* d : deliveries) {
    const auto& data = d->event.data;
    auto status = stored_delivery_status(events::string_field(data, "status"));
    if (!status) {
      // receiving/received and the like say nothing about a reply of ours.
      ++ignored;
      continue;
    }
    updates.push_back(
        Update{d,
               {events::string_field(data, "provider"), events::string_field(data, "provider_message_id")},
               std::move(*status),
               events::string_field(data, "error_code"),
               events::string_field(data, "reported_at")});
  }
  if (updates.empty()) {
    if (metrics_) metrics_->ignored.Increment(static_cast<double>(ignored));
    return;
  }

  std::set<ProviderMessageKey> keys;
  for (const auto& u : updates)
    keys.insert(u.key);
  DeliveryStatusStore::lock(tx, {keys.begin(), keys.end()});

  // The replies that carry these ids, and what is kept for the others.
  std::map<std::string, std::vector<std::size_t>> replies_of; // provider id -> indexes into `replies`
  std::vector<Reply> replies;
  {
    pg::ArrayLiteral ids;
    for (const auto& key : keys)
      ids.add(key.provider_message_id);
    for (const auto& row : tx.exec_prepared(kFindReplies, ids.str())) {
      Reply r;
      r.about.reply_id = row[1].as<std::string>();
      r.status = row[2].as<std::string>();
      r.error_code = row[3].as<std::string>();
      r.about.customer_id = row[4].as<std::string>();
      r.about.conversation_id = row[5].as<std::string>();
      r.about.ticket_id = row[6].as<std::string>();
      r.about.channel = row[7].as<std::string>();
      r.about.source_event_id = row[8].as<std::string>();
      r.about.correlation_id = row[9].as<std::string>();
      r.about.reply_body = row[10].as<std::string>();
      r.about.inbound_body = row[11].as<std::string>();
      r.about.ticket_priority = row[12].as<std::string>();
      replies_of[row[0].as<std::string>()].push_back(replies.size());
      replies.push_back(std::move(r));
    }
  }
  std::map<ProviderMessageKey, Kept> kept;
  {
    pg::ArrayLiteral providers, ids;
    for (const auto& key : keys) {
      if (replies_of.contains(key.provider_message_id)) continue;
      providers.add(key.provider);
      ids.add(key.provider_message_id);
    }
    if (ids.size() > 0) {
      for (const auto& row : tx.exec_prepared(kFindKept, providers.str(), ids.str())) {
        kept[{row[0].as<std::string>(), row[1].as<std::string>()}] =
            Kept{{row[2].as<std::string>(), row[3].as<std::string>(), {}}, {}, false};
      }
    }
  }

  // In arrival order, each status moves its reply (or what is kept) forward or not at all.
  std::size_t applied = 0, kept_count = 0;
  for (const auto& u : updates) {
    if (const auto it = replies_of.find(u.key.provider_message_id); it != replies_of.end()) {
      bool moved = false;
      for (const auto index : it->second) {
        auto& r = replies[index];
        const auto next = advance_delivery_status(r.status, u.status);
        if (!next) continue;
        moved = true;
        r.status = *next;
        if (!u.error_code.empty()) r.error_code = u.error_code;
        r.reported_at = u.reported_at;
        r.changed = true;
        if (is_delivery_failure(r.status)) {
          r.failed_by = u.delivery;
          r.failure_detail = u.key.provider + " reported " + r.status +
                             (u.error_code.empty() ? std::string() : " (error " + u.error_code + ")");
        }
      }
      moved ? ++applied : ++ignored;
      continue;
    }
    auto [entry, fresh] = kept.try_emplace(u.key);
    auto& k = entry->second;
    const auto next = fresh ? std::optional<std::string>(u.status) : advance_delivery_status(k.status.status, u.status);
    if (!next) {
      ++ignored;
      continue;
    }
    k.status.status = *next;
    if (!u.error_code.empty()) k.status.error_code = u.error_code;
    k.status.reported_at = u.reported_at;
    k.source_event_id = u.delivery->event.id;
    k.changed = true;
    ++kept_count;
  }

  pg::ArrayLiteral r_id, r_status, r_error, r_reported;
  for (const auto& r : replies) {
    if (!r.changed) continue;
    r_id.add(r.about.reply_id);
    r_status.add(r.status);
    r_error.add(r.error_code);
    r_reported.add_or_null(r.reported_at);
  }
  if (r_id.size() > 0) tx.exec_prepared(kUpdateReplies, r_id.str(), r_status.str(), r_error.str(), r_reported.str());
  pg::ArrayLiteral k_provider, k_id, k_status, k_error, k_reported, k_source;
  for (const auto& [key, k] : kept) {
    if (!k.changed) continue;
    k_provider.add(key.provider);
    k_id.add(key.provider_message_id);
    k_status.add(k.status.status);
    k_error.add(k.status.error_code);
    k_reported.add_or_null(k.status.reported_at);
    k_source.add(k.source_event_id);
  }
  if (k_id.size() > 0) {
    tx.exec_prepared(kKeep, k_provider.str(), k_id.str(), k_status.str(), k_error.str(), k_reported.str(),
                     k_source.str());
  }

  const auto now = std::chrono::system_clock::now();
  for (const auto& r : replies) {
    if (r.failed_by == nullptr) continue;
    if (r.about.ticket_id.empty()) continue; // nothing for a person to take over
    const auto& cause = r.failed_by->event;
    auto event = events::derive_event(cause, "agent-worker", "delivery-escalation:" + r.about.reply_id,
                                      std::string(kAgentSource), std::string(kEscalationType),
                                      undelivered_reply_escalation(r.about, kDeliveryFailed, r.failure_detail, now));
    event.customerid = r.about.customer_id;
    event.subject = r.about.customer_id;
    outputs.add_event(cause.id, escalations_topic_, r.about.customer_id, event);
  }
  if (metrics_) {
    metrics_->applied.Increment(static_cast<double>(applied));
    metrics_->ignored.Increment(static_cast<double>(ignored));
    metrics_->kept.Increment(static_cast<double>(kept_count));
  }
}

} // namespace fte::agent
