#include "desk_store.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"
#include "fte/common/time.hpp"
#include "fte/knowledge/store.hpp"
#include "fte/pg/array_literal.hpp"
#include "fte/replies/reply_sender.hpp"

namespace fte::escalation::desk {
namespace {

constexpr std::string_view kSource = "/fte/escalation";
// The actor of what the service does on a customer's message.
constexpr std::string_view kServiceActor = "escalation";

#define FTE_TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

// A conversation as every answer shows it; columns read by summary_of().
#define FTE_CONVERSATION_COLUMNS                                                                                                                                                                                                                                                                                                                      \
  "d.id::text, d.customer_id::text, d.status, coalesce(d.owner, ''), d.priority, d.channel, d.version, " FTE_TS(                                                                                                                                                                                                                                      \
      "d."                                                                                                                                                                                                                                                                                                                                            \
      "crea"                                                                                                                                                                                                                                                                                                                                          \
      "ted_"                                                                                                                                                                                                                                                                                                                                          \
      "at") ", " FTE_TS("d.updated_at") ", " FTE_TS("d.last_customer_message_at") ", " FTE_TS("d.first_response_due") ", " FTE_TS("d.first_response_at") ", " FTE_TS("d.resolution_due") ", " FTE_TS("d."                                                                                                                                             \
                                                                                                                                                                                                     "resolve"                                                                                                                                        \
                                                                                                                                                                                                     "d_at") ", " FTE_TS("d.due_at") ", (d.status <> 'resolved' AND d.due_at < clock_timestamp()), "                                                  \
                                                                                                                                                                                                                                     "coalesce(c.display_name, ''), d.reopened, "                                                                     \
                                                                                                                                                                                                                                     "(SELECT e.summary FROM escalations e WHERE e.desk_conversation_id = d.id ORDER BY e.created_at DESC LIMIT 1), " \
                                                                                                                                                                                                                                     "(SELECT e.reason FROM escalations e WHERE e.desk_conversation_id = d.id ORDER BY e.created_at LIMIT 1), "       \
                                                                                                                                                                                                                                     "coalesce(d.resolved_by, '')"

nlohmann::json summary_of(const pqxx::row& r) {
  const auto optional = [&](int i) { return r[i].is_null() ? nlohmann::json(nullptr) : nlohmann::json(r[i].c_str()); };
  nlohmann::json j = {
      {"id", r[0].c_str()},
      {"customer_id", r[1].c_str()},
      {"status", r[2].c_str()},
      {"owner", r[3].is_null() || r[3].size() == 0 ? nlohmann::json(nullptr) : nlohmann::json(r[3].c_str())},
      {"priority", r[4].c_str()},
      {"channel", r[5].c_str()},
      {"version", r[6].as<std::int64_t>()},
      {"created_at", r[7].c_str()},
      {"updated_at", r[8].c_str()},
      {"last_customer_message_at", r[9].c_str()},
      {"first_response_due", r[10].c_str()},
      {"first_response_at", optional(11)},
      {"resolution_due", r[12].c_str()},
      {"resolved_at", optional(13)},
      {"due_at", r[14].c_str()},
      {"breached", r[15].as<bool>()},
      {"customer_name", r[16].c_str()},
      {"reopened", r[17].as<int>()},
      {"summary", optional(18)},
      {"reason", optional(19)}};
  if (r[20].size() > 0) j["resolved_by"] = r[20].c_str();
  return j;
}

Refusal not_found() { return Refusal{404, "conversation_not_found", "no such conversation", {}}; }

// The fte.desk.activity data of one audit row.
nlohmann::json activity_data(const std::string& conversation_id, const std::string& customer_id,
                             std::string_view action, std::string_view actor, std::int64_t version, const State& state,
                             const std::string& priority, const std::string& at, const nlohmann::json& detail) {
  nlohmann::json data = {{"conversation_id", conversation_id},
                         {"customer_id", customer_id},
                         {"action", action},
                         {"actor", actor},
                         {"version", version},
                         {"status", to_string(state.status)},
                         {"priority", priority},
                         {"at", at},
                         {"detail", detail.is_object() ? detail : nlohmann::json::object()}};
  if (!state.owner.empty()) data["owner"] = state.owner;
  return data;
}

void notify_desk(pqxx::work& tx, const std::vector<std::string>& conversation_ids) {
  pg::ArrayLiteral ids;
  for (const auto& id : conversation_ids)
    ids.add(id);
  tx.exec_params("SELECT pg_notify($1, x) FROM unnest($2::text[]) AS x", std::string(kDeskChannel), ids.str());
}

// ---- the consumer's statements -------------------------------------------

constexpr const char* kFindActive = "desk_find_active";
constexpr const char* kFindActiveSql =
    "SELECT id::text, customer_id::text, status, coalesce(owner, ''), priority, version FROM desk_conversations "
    "WHERE customer_id = ANY($1::uuid[]) AND (status <> 'resolved' OR reopen_until > clock_timestamp()) "
    "ORDER BY customer_id, (status = 'resolved'), created_at DESC FOR UPDATE";
constexpr const char* kOnlineAgents = "desk_online_agents";
constexpr const char* kOnlineAgentsSql =
    "SELECT s.username, (SELECT count(*) FROM desk_conversations d WHERE d.owner = s.username "
    "  AND d.status <> 'resolved')::int, "
    "  coalesce((SELECT extract(epoch FROM max(d.assigned_at)) FROM desk_conversations d "
    "            WHERE d.owner = s.username), 0)::float8 "
    "FROM (SELECT DISTINCT username FROM desk_sessions WHERE role = 'agent' AND ended_at IS NULL "
    "      AND expires_at > clock_timestamp() AND last_seen_at > clock_timestamp() - $1::int * interval '1 minute') s";
constexpr const char* kOpenConversations = "desk_open_conversations";
constexpr const char* kOpenConversationsSql =
    "INSERT INTO desk_conversations (id, customer_id, status, owner, priority, channel, version, assigned_at, "
    "  last_customer_message_at, first_response_due, resolution_due, created_at, updated_at) "
    "SELECT u.id, u.customer_id, u.status, NULLIF(u.owner, ''), u.priority, u.channel, u.version, "
    "  CASE WHEN u.owner <> '' THEN clock_timestamp() END, clock_timestamp(), "
    "  clock_timestamp() + s.first_response_minutes * interval '1 minute', "
    "  clock_timestamp() + s.resolution_minutes * interval '1 minute', clock_timestamp(), clock_timestamp() "
    "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) "
    "  WITH ORDINALITY AS u(id, customer_id, status, owner, priority, channel, version, ord) "
    "JOIN desk_sla s ON s.priority = u.priority ORDER BY u.ord";
// Existing conversations the batch changed; a reopened one gets new due times.
constexpr const char* kUpdateJoined = "desk_update_joined";
constexpr const char* kUpdateJoinedSql =
    "UPDATE desk_conversations d SET status = u.status, owner = NULLIF(u.owner, ''), priority = u.priority, "
    "  channel = u.channel, version = u.version, updated_at = clock_timestamp(), "
    "  last_customer_message_at = CASE WHEN u.customer_wrote THEN clock_timestamp() "
    "                                  ELSE d.last_customer_message_at END, "
    "  resolved_at = NULL, reopen_until = NULL, reopened = d.reopened + u.reopens, "
    "  first_response_at = CASE WHEN u.reopens > 0 THEN NULL ELSE d.first_response_at END, "
    "  first_response_due = CASE WHEN u.reopens > 0 "
    "    THEN clock_timestamp() + s.first_response_minutes * interval '1 minute' ELSE d.first_response_due END, "
    "  resolution_due = CASE WHEN u.reopens > 0 "
    "    THEN clock_timestamp() + s.resolution_minutes * interval '1 minute' ELSE d.resolution_due END "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bool[], $8::int[]) "
    "  AS u(id, status, owner, priority, channel, version, customer_wrote, reopens) "
    "JOIN desk_sla s ON s.priority = u.priority WHERE d.id = u.id";
constexpr const char* kInsertAudit = "desk_insert_audit";
constexpr const char* kInsertAuditSql =
    "INSERT INTO desk_audit (conversation_id, actor, action, version, detail, at) "
    "SELECT c, a, x, v, d, clock_timestamp() FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], "
    "  $5::jsonb[]) WITH ORDINALITY AS u(c, a, x, v, d, ord) ORDER BY ord";
constexpr const char* kLinkEscalations = "desk_link_escalations";
constexpr const char* kLinkEscalationsSql =
    "UPDATE escalations e SET desk_conversation_id = u.conversation FROM unnest($1::text[], $2::uuid[]) "
    "AS u(source, conversation) WHERE e.source_event_id = u.source";
// The escalation rows follow their conversation (GET /api/escalations).
constexpr const char* kSyncEscalations = "desk_sync_escalations";
constexpr const char* kSyncEscalationsSql =
    "UPDATE escalations e SET status = CASE d.status WHEN 'open' THEN 'open' WHEN 'resolved' THEN 'resolved' "
    "  ELSE 'assigned' END, assigned_to = d.owner, resolved_at = d.resolved_at, updated_at = clock_timestamp() "
    "FROM desk_conversations d WHERE e.desk_conversation_id = d.id AND d.id = ANY($1::uuid[]) "
    "  AND (e.status, e.assigned_to) IS DISTINCT FROM "
    "      (CASE d.status WHEN 'open' THEN 'open' WHEN 'resolved' THEN 'resolved' ELSE 'assigned' END, d.owner)";

std::string higher_priority(const std::string& a, const std::string& b) {
  static const std::map<std::string, int, std::less<>> rank = {{"low", 0}, {"normal", 1}, {"high", 2}, {"urgent", 3}};
  const auto ra = rank.find(a), rb = rank.find(b);
  if (ra == rank.end()) return b;
  if (rb == rank.end()) return a;
  return ra->second >= rb->second ? a : b;
}

} // namespace

bool is_uuid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

DeskSettings DeskSettings::from_env(const Environment& env) {
  DeskSettings s;
  s.reopen_window = std::chrono::hours(env.get_int("FTE_DESK_REOPEN_HOURS", 72, 0, 24 * 365));
  const auto mode = env.get_or("FTE_DESK_AUTO_ASSIGN", "off");
  if (mode != "off" && mode != "round_robin") {
    throw ConfigError("FTE_DESK_AUTO_ASSIGN", "must be off or round_robin, not '" + mode + "'");
  }
  s.round_robin = mode == "round_robin";
  s.online_window = std::chrono::minutes(env.get_int("FTE_DESK_ONLINE_MINUTES", 15, 1, 24 * 60));
  try {
    s.templates = parse_templates(env.get_or("FTE_DESK_WHATSAPP_TEMPLATES", ""));
  } catch (const std::invalid_argument& e) {
    throw ConfigError("FTE_DESK_WHATSAPP_TEMPLATES", e.what());
  }
  return s;
}

void prepare_handovers(pqxx::connection& connection) {
  connection.prepare(kFindActive, kFindActiveSql);
  connection.prepare(kOnlineAgents, kOnlineAgentsSql);
  connection.prepare(kOpenConversations, kOpenConversationsSql);
  connection.prepare(kUpdateJoined, kUpdateJoinedSql);
  connection.prepare(kInsertAudit, kInsertAuditSql);
  connection.prepare(kLinkEscalations, kLinkEscalationsSql);
  connection.prepare(kSyncEscalations, kSyncEscalationsSql);
}

void take_handovers(pqxx::work& tx, const DeskSettings& settings, std::span<const Handover> handovers,
                    runtime::Outputs& outputs, const std::string& activity_topic) {
  if (handovers.empty()) return;
  struct Conversation {
    std::string id;
    State state;
    std::string priority;
    std::string channel;
    std::int64_t version = 0;
    bool is_new = false;
    bool customer_wrote = false;
    int reopens = 0;
  };
  std::map<std::string, Conversation> by_customer;
  {
    std::set<std::string> customers;
    for (const auto& h : handovers)
      customers.insert(h.customer_id);
    pg::ArrayLiteral list;
    for (const auto& c : customers)
      list.add(c);
    // Ordered so a customer's active conversation comes before a resolved one.
    for (const auto& row : tx.exec_prepared(kFindActive, list.str())) {
      const std::string customer = row[1].c_str();
      if (by_customer.contains(customer)) continue;
      by_customer[customer] = Conversation{row[0].c_str(),
                                           State{*parse_status(row[2].c_str()), row[3].c_str()},
                                           row[4].c_str(),
                                           {},
                                           row[5].as<std::int64_t>()};
    }
  }
  std::vector<Candidate> candidates;
  bool candidates_read = false;
  const auto now = std::chrono::system_clock::now();
  const auto at = format_rfc3339(now);

  pg::ArrayLiteral a_conversation, a_actor, a_action, a_version, a_detail, link_source, link_conversation;
  std::vector<std::string> touched; // in first-touch order
  const auto audit = [&](const Handover& h, Conversation& c, std::string_view action, std::string_view actor,
                         const nlohmann::json& detail) {
    ++c.version;
    a_conversation.add(c.id);
    a_actor.add(actor);
    a_action.add(action);
    a_version.add(c.version);
    a_detail.add(detail.dump());
    auto event = events::derive_event(
        *h.cause, "escalation", "desk:" + std::string(action), std::string(kSource), std::string(kActivityType),
        activity_data(c.id, h.customer_id, action, actor, c.version, c.state, c.priority, at, detail));
    event.customerid = h.customer_id;
    event.subject = h.customer_id;
    outputs.add_event(h.cause->id, activity_topic, h.customer_id, event);
  };

  for (const auto& h : handovers) {
    nlohmann::json detail = {{"reason", h.reason}, {"channel", h.channel}, {"escalation_event_id", h.cause->id}};
    if (!h.message_id.empty()) detail["message_id"] = h.message_id;
    auto found = by_customer.find(h.customer_id);
    if (found == by_customer.end()) {
      Conversation c{name_based_uuid(kFteNamespace, "desk-conversation:" + h.cause->id),
                     State{Status::open, {}},
                     h.priority,
                     h.channel,
                     0,
                     /*is_new=*/true};
      found = by_customer.emplace(h.customer_id, std::move(c)).first;
      auto& conv = found->second;
      touched.push_back(conv.id);
      audit(h, conv, "opened", kServiceActor, detail);
      if (settings.round_robin) {
        if (!candidates_read) {
          for (const auto& row : tx.exec_prepared(kOnlineAgents, static_cast<int>(settings.online_window.count()))) {
            candidates.push_back(Candidate{
                row[0].c_str(), row[1].as<int>(),
                std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::duration<double>(row[2].as<double>())))});
          }
          candidates_read = true;
        }
        if (auto who = next_assignee(candidates, now)) {
          conv.state = State{Status::assigned, *who};
          audit(h, conv, "assigned", kServiceActor, {{"to", *who}, {"by", "round_robin"}});
        }
      }
    } else {
      auto& conv = found->second;
      if (std::find(touched.begin(), touched.end(), conv.id) == touched.end()) touched.push_back(conv.id);
      const bool was_resolved = conv.state.status == Status::resolved;
      conv.state = after_customer_message(conv.state);
      conv.priority = higher_priority(conv.priority, h.priority);
      const bool delivery = h.reason.starts_with("delivery_");
      if (!delivery) {
        conv.customer_wrote = true;
        conv.channel = h.channel;
      }
      if (was_resolved) {
        ++conv.reopens;
        detail["reopened"] = true;
      }
      audit(h, conv, delivery ? "reply_failed" : "customer_wrote", kServiceActor, detail);
    }
    link_source.add(h.cause->id);
    link_conversation.add(found->second.id);
  }

  pg::ArrayLiteral n_id, n_customer, n_status, n_owner, n_priority, n_channel, n_version;
  pg::ArrayLiteral u_id, u_status, u_owner, u_priority, u_channel, u_version, u_wrote, u_reopens;
  for (const auto& [customer, c] : by_customer) {
    if (std::find(touched.begin(), touched.end(), c.id) == touched.end()) continue;
    if (c.is_new) {
      n_id.add(c.id);
      n_customer.add(customer);
      n_status.add(to_string(c.state.status));
      n_owner.add(c.state.owner);
      n_priority.add(c.priority);
      n_channel.add(c.channel);
      n_version.add(c.version);
    } else {
      u_id.add(c.id);
      u_status.add(to_string(c.state.status));
      u_owner.add(c.state.owner);
      u_priority.add(c.priority);
      u_channel.add(c.channel);
      u_version.add(c.version);
      u_wrote.add(c.customer_wrote ? "true" : "false");
      u_reopens.add(static_cast<std::int64_t>(c.reopens));
    }
  }
  if (n_id.size() > 0) {
    tx.exec_prepared(kOpenConversations, n_id.str(), n_customer.str(), n_status.str(), n_owner.str(), n_priority.str(),
                     n_channel.str(), n_version.str());
  }
  if (u_id.size() > 0) {
    // The channel of a conversation only a delivery failure touched stays.
    tx.exec_prepared(kUpdateJoined, u_id.str(), u_status.str(), u_owner.str(), u_priority.str(), u_channel.str(),
                     u_version.str(), u_wrote.str(), u_reopens.str());
  }
  tx.exec_prepared(kInsertAudit, a_conversation.str(), a_actor.str(), a_action.str(), a_version.str(), a_detail.str());
  tx.exec_prepared(kLinkEscalations, link_source.str(), link_conversation.str());
  pg::ArrayLiteral ids;
  for (const auto& id : touched)
    ids.add(id);
  tx.exec_prepared(kSyncEscalations, ids.str());
  notify_desk(tx, touched);
}

// ---- people's actions ------------------------------------------------------

namespace {

// What an action does once the row is locked: the state after it, the
// audit detail, whether it is the first response, and what else the
// answer carries. `unchanged`: nothing to write (claiming one's own).
struct Plan {
  State after;
  nlohmann::json detail = nlohmann::json::object();
  bool responded = false;
  bool unchanged = false;
  nlohmann::json extra = nlohmann::json::object();
};
using Planned = std::variant<Plan, Refusal>;

// The row as an action sees it, locked.
struct LockedRow {
  State state;
  std::int64_t version = 0;
  std::string customer_id;
  std::string priority;
  std::string channel;
};

constexpr const char* kLockSql = "SELECT status, coalesce(owner, ''), version, customer_id::text, priority, channel "
                                 "FROM desk_conversations WHERE id = $1 FOR UPDATE";

// $4 = the actor; $5 = reopen window hours; $6 = a first response.
constexpr const char* kApplySql =
    "UPDATE desk_conversations d SET status = $2, owner = NULLIF($3, ''), version = d.version + 1, "
    "  updated_at = clock_timestamp(), "
    "  assigned_at = CASE WHEN $3 <> '' AND d.owner IS DISTINCT FROM $3 THEN clock_timestamp() ELSE d.assigned_at END, "
    "  resolved_at = CASE WHEN $2 = 'resolved' THEN coalesce(d.resolved_at, clock_timestamp()) END, "
    "  resolved_by = CASE WHEN $2 = 'resolved' THEN $4 ELSE d.resolved_by END, "
    "  reopen_until = CASE WHEN $2 = 'resolved' THEN clock_timestamp() + $5::int * interval '1 hour' END, "
    "  reopened = d.reopened + CASE WHEN d.status = 'resolved' AND $2 <> 'resolved' THEN 1 ELSE 0 END, "
    "  first_response_at = CASE "
    "    WHEN $6 THEN coalesce(CASE WHEN d.status = 'resolved' THEN NULL ELSE d.first_response_at END, "
    "                          clock_timestamp()) "
    "    WHEN d.status = 'resolved' AND $2 <> 'resolved' THEN NULL ELSE d.first_response_at END, "
    "  first_response_due = CASE WHEN d.status = 'resolved' AND $2 <> 'resolved' "
    "    THEN clock_timestamp() + s.first_response_minutes * interval '1 minute' ELSE d.first_response_due END, "
    "  resolution_due = CASE WHEN d.status = 'resolved' AND $2 <> 'resolved' "
    "    THEN clock_timestamp() + s.resolution_minutes * interval '1 minute' ELSE d.resolution_due END "
    "FROM desk_sla s WHERE d.id = $1 AND s.priority = d.priority RETURNING d.version";

constexpr const char* kAuditOneSql = "INSERT INTO desk_audit (conversation_id, actor, action, version, detail) "
                                     "VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id, " FTE_TS("at");

constexpr const char* kSummarySql = "SELECT " FTE_CONVERSATION_COLUMNS " FROM desk_conversations d "
                                    "LEFT JOIN customers c ON c.id = d.customer_id WHERE d.id = $1";

nlohmann::json summary(pqxx::transaction_base& tx, const std::string& id) {
  const auto rows = tx.exec_params(kSummarySql, id);
  return rows.empty() ? nlohmann::json(nullptr) : summary_of(rows[0]);
}

} // namespace

struct DeskStore::Locked {
  pqxx::work& tx;
  LockedRow row;
};

DeskStore::DeskStore(pg::ConnectionPool& database, const runtime::Outbox& outbox, std::string activity_topic,
                     DeskSettings settings)
    : database_(database), outbox_(outbox), activity_topic_(std::move(activity_topic)), settings_(std::move(settings)) {
}

template <class Rule, class After>
Answer DeskStore::change(const access::Principal& who, const std::string& id, std::string_view action, Rule rule,
                         After after) const {
  if (!is_uuid(id)) return not_found();
  auto connection = database_.acquire();
  pqxx::work tx(*connection);
  const auto rows = tx.exec_params(kLockSql, id);
  if (rows.empty()) return not_found();
  Locked locked{tx,
                LockedRow{State{*parse_status(rows[0][0].c_str()), rows[0][1].c_str()}, rows[0][2].as<std::int64_t>(),
                          rows[0][3].c_str(), rows[0][4].c_str(), rows[0][5].c_str()}};
  const Outcome outcome = rule(locked.row.state);
  if (const auto* refusal = std::get_if<Refusal>(&outcome)) return *refusal;
  Planned planned = after(locked, std::get<State>(outcome));
  if (auto* refusal = std::get_if<Refusal>(&planned)) return std::move(*refusal);
  auto& plan = std::get<Plan>(planned);
  if (plan.unchanged) {
    nlohmann::json answer = plan.extra;
    answer["conversation"] = summary(tx, id);
    tx.commit();
    return answer;
  }
  const auto version = tx.exec_params1(kApplySql, id, std::string(to_string(plan.after.status)), plan.after.owner,
                                       who.name, static_cast<int>(settings_.reopen_window.count()), plan.responded)[0]
                           .as<std::int64_t>();
  const auto audit = tx.exec_params1(kAuditOneSql, id, who.name, std::string(action), version, plan.detail.dump());
  const auto audit_id = audit[0].as<std::int64_t>();
  // One event per audit row; its id is the row's, so a republication is
  // the same event.
  auto event =
      events::make_origin_event(EventId(name_based_uuid(kFteNamespace, "desk-audit:" + std::to_string(audit_id))),
                                std::string(kSource), std::string(kActivityType),
                                activity_data(id, locked.row.customer_id, action, who.name, version, plan.after,
                                              locked.row.priority, audit[1].c_str(), plan.detail));
  event.customerid = locked.row.customer_id;
  event.subject = locked.row.customer_id;
  runtime::Outputs outputs;
  outputs.add_event(event.id, activity_topic_, locked.row.customer_id, event);
  outbox_.write(tx, outputs);
  tx.exec_params("UPDATE escalations e SET status = CASE $2 WHEN 'open' THEN 'open' WHEN 'resolved' THEN 'resolved' "
                 "ELSE 'assigned' END, assigned_to = NULLIF($3, ''), updated_at = clock_timestamp(), "
                 "resolved_at = CASE WHEN $2 = 'resolved' THEN clock_timestamp() END WHERE e.desk_conversation_id = $1",
                 id, std::string(to_string(plan.after.status)), plan.after.owner);
  notify_desk(tx, {id});
  nlohmann::json answer = plan.extra;
  answer["conversation"] = summary(tx, id);
  tx.commit();
  // Published by the relay task, not here: this thread answers the person,
  // and one publisher per process never sends a row twice.
  if (on_committed_) on_committed_();
  return answer;
}

std::string DeskStore::relay() const {
  std::vector<std::pair<std::string, std::vector<kafka::ProducerRecord>>> left;
  {
    auto connection = database_.acquire();
    pqxx::work tx(*connection);
    left = outbox_.left_behind(tx, std::chrono::milliseconds(0), 500);
    tx.commit();
  }
  if (left.empty()) return {};
  return outbox_.publish(std::move(left));
}

Answer DeskStore::claim(const access::Principal& who, const std::string& id) const {
  return change(
      who, id, "claimed", [&](const State& s) { return desk::claim(s, who); },
      [](Locked& l, const State& after) -> Planned {
        Plan plan{after};
        plan.unchanged = after == l.row.state;
        return plan;
      });
}

Answer DeskStore::release(const access::Principal& who, const std::string& id) const {
  return change(
      who, id, "released", [&](const State& s) { return desk::release(s, who); },
      [](Locked& l, const State& after) -> Planned {
        return Plan{after, {{"from", l.row.state.owner}}};
      });
}

Answer DeskStore::assign(const access::Principal& who, const std::string& id, const std::string& to) const {
  return change(
      who, id, "assigned", [&](const State& s) { return desk::assign(s, who, to); },
      [&](Locked& l, const State& after) -> Planned {
        // Someone who can work the desk: signed in once, or an API token in force.
        const auto known = l.tx.exec_params("SELECT 1 FROM desk_sessions WHERE username = $1 UNION ALL "
                                            "SELECT 1 FROM api_tokens WHERE name = $1 AND revoked_at IS NULL LIMIT 1",
                                            to);
        if (known.empty()) {
          return Refusal{422, "unknown_person", "nobody called '" + to + "' has signed in to the desk", {}};
        }
        Plan plan{after, {{"to", to}}};
        if (!l.row.state.owner.empty()) plan.detail["from"] = l.row.state.owner;
        plan.unchanged = after == l.row.state;
        return plan;
      });
}

Answer DeskStore::note(const access::Principal& who, const std::string& id, const std::string& body) const {
  return change(
      who, id, "noted", [](const State& s) -> Outcome { return s; },
      [&](Locked& l, const State& after) -> Planned {
        const auto note_id = l.tx.exec_params1("INSERT INTO desk_notes (conversation_id, author, body) "
                                               "VALUES ($1, $2, $3) RETURNING id",
                                               id, who.name, body)[0]
                                 .as<std::int64_t>();
        Plan plan{after, {{"note_id", note_id}}};
        plan.extra["note"] = {{"id", note_id}, {"author", who.name}, {"body", body}};
        return plan;
      });
}

Answer DeskStore::reopen(const access::Principal& who, const std::string& id) const {
  return change(
      who, id, "reopened", [&](const State& s) { return desk::reopen(s, who); },
      [](Locked&, const State& after) -> Planned { return Plan{after}; });
}

Answer DeskStore::resolve(const access::Principal& who, const std::string& id, const std::string& article) const {
  return change(
      who, id, "resolved", [&](const State& s) { return desk::resolve(s, who); },
      [&](Locked& l, const State& after) -> Planned {
        // The article: the one named, else the latest a reply here cited.
        std::optional<std::string> slug;
        if (!article.empty()) {
          slug = article;
        } else {
          const auto cited =
              l.tx.exec_params("SELECT k.slug FROM messages m JOIN knowledge_base k ON k.id = m.kb_article_id "
                               "WHERE m.customer_id = $1 AND m.direction = 'outbound' AND m.author IS NOT NULL "
                               "  AND m.created_at >= (SELECT created_at FROM desk_conversations WHERE id = $2) "
                               "ORDER BY m.created_at DESC LIMIT 1",
                               l.row.customer_id, id);
          if (!cited.empty()) slug = cited[0][0].c_str();
        }
        // What the customer asked: the latest message handed over for a
        // reason of its own (not a follow-up nor a delivery failure).
        const auto asked =
            l.tx.exec_params("SELECT coalesce(NULLIF(m.subject, '') || E'\\n', '') || m.body FROM escalations e "
                             "JOIN messages m ON m.id = e.message_id WHERE e.desk_conversation_id = $1 "
                             "ORDER BY (e.reason IN ('desk_conversation', 'delivery_unknown', 'delivery_failed')), "
                             "  e.created_at DESC LIMIT 1",
                             id);
        Plan plan{after};
        if (slug) plan.detail["article"] = *slug;
        if (!asked.empty()) {
          try {
            knowledge::store::record_resolution(l.tx, who.name, asked[0][0].c_str(),
                                                slug ? std::optional<std::string_view>(*slug) : std::nullopt);
          } catch (const std::invalid_argument& e) {
            return Refusal{400, "invalid_field", std::string("article: ") + e.what(), {}};
          }
          plan.detail["learned"] = true;
        }
        return plan;
      });
}

Answer DeskStore::reply(const access::Principal& who, const std::string& id, const ReplyRequest& request,
                        const std::string& idempotency_key) const {
  const auto digest = sha256_hex(nlohmann::json{
      {"body", request.body},
      {"channel", request.channel},
      {"template", request.template_name},
      {"variables", request.variables},
      {"article", request.article},
      {"reopen", request.reopen}}.dump());
  // A replay of a request already done is answered before the rules: the
  // conversation has moved on since (the first request changed it).
  return change(
      who, id, "replied", [&](const State& s) -> Outcome { return s; },
      [&](Locked& l, const State& current) -> Planned {
        if (!idempotency_key.empty()) {
          const auto done = l.tx.exec_params(
              "SELECT r.request_digest, r.message_id::text, m.status, m.channel FROM desk_replies r "
              "JOIN messages m ON m.id = r.message_id WHERE r.conversation_id = $1 AND r.idempotency_key = $2",
              id, idempotency_key);
          if (!done.empty()) {
            if (done[0][0].c_str() != digest) {
              return Refusal{422,
                             "idempotency_key_reused",
                             "this Idempotency-Key was used for a different reply on this conversation",
                             {}};
            }
            Plan plan{current};
            plan.unchanged = true;
            plan.extra["reply"] = {{"id", done[0][1].c_str()},
                                   {"status", done[0][2].c_str()},
                                   {"channel", done[0][3].c_str()},
                                   {"replayed", true}};
            return plan;
          }
        }
        const auto ruled = desk::reply(current, who, request.reopen);
        if (const auto* refusal = std::get_if<Refusal>(&ruled)) return *refusal;
        if (request.version > l.row.version) {
          return Refusal{400,
                         "invalid_field",
                         "version: the conversation is at version " + std::to_string(l.row.version) + ", not " +
                             std::to_string(request.version),
                         {}};
        }
        std::vector<Change> since;
        for (const auto& r : l.tx.exec_params("SELECT version, action, actor, " FTE_TS(
                                                  "at") " FROM desk_audit "
                                                        "WHERE conversation_id = $1 AND version > $2 ORDER BY id",
                                              id, request.version)) {
          since.push_back(Change{r[0].as<std::int64_t>(), r[1].c_str(), r[2].c_str(), r[3].c_str()});
        }
        if (const auto stale = stale_reply_changes(since, who.name); !stale.empty()) {
          nlohmann::json changes = nlohmann::json::array();
          for (const auto& c : stale)
            changes.push_back({{"version", c.version}, {"action", c.action}, {"actor", c.actor}, {"at", c.at}});
          return Refusal{409,
                         "conversation_changed",
                         "the conversation changed since version " + std::to_string(request.version) +
                             ": read it again before replying",
                         {},
                         {{"version", l.row.version}, {"changes", std::move(changes)}}};
        }
        // The channel: as asked, else where the customer last wrote; the
        // reply answers the customer's latest message there.
        const auto channel = request.channel.empty() ? l.row.channel : request.channel;
        const auto inbound = l.tx.exec_params(
            "SELECT conversation_id::text, coalesce(ticket_id::text, ''), sender, coalesce(subject, ''), "
            "  channel_metadata::text, extract(epoch FROM created_at)::float8, coalesce(correlation_id, '') "
            "FROM messages WHERE customer_id = $1 AND direction = 'inbound' AND channel = $2 "
            "ORDER BY created_at DESC LIMIT 1",
            l.row.customer_id, channel);
        if (inbound.empty()) {
          return Refusal{409, "channel_unavailable", "the customer has not written on " + channel, {}};
        }
        const auto& in = inbound[0];
        std::string body = request.body;
        nlohmann::json metadata = {{"inbound", nlohmann::json::parse(in[4].c_str())}};
        if (channel == "whatsapp") {
          const auto last =
              std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  std::chrono::duration<double>(in[5].as<double>())));
          const auto window = whatsapp_window(last, std::chrono::system_clock::now());
          if (request.template_name.empty()) {
            if (!window.open) {
              return Refusal{409,
                             "whatsapp_window_closed",
                             "WhatsApp allows free-form replies only within 24 hours of the customer's last "
                             "message (it closed at " +
                                 format_rfc3339(*window.closes_at) + "); send an approved template or answer by email",
                             {}};
            }
            if (body.size() > kWhatsAppBodyLimit) {
              return Refusal{400, "invalid_field", "body: WhatsApp takes at most 1600 characters", {}};
            }
          } else {
            const auto it = std::find_if(settings_.templates.begin(), settings_.templates.end(),
                                         [&](const WhatsAppTemplate& t) { return t.name == request.template_name; });
            if (it == settings_.templates.end()) {
              return Refusal{400, "invalid_field", "template: no template named '" + request.template_name + "'", {}};
            }
            auto rendered = render(*it, request.variables);
            if (auto* refusal = std::get_if<Refusal>(&rendered)) return std::move(*refusal);
            auto& r = std::get<RenderedTemplate>(rendered);
            body = std::move(r.text);
            metadata["template"] = {
                {"name", it->name}, {"content_sid", it->content_sid}, {"variables", std::move(r.content_variables)}};
          }
        } else if (!request.template_name.empty()) {
          return Refusal{400, "invalid_field", "template: templates are WhatsApp's; this reply goes by " + channel, {}};
        }
        std::optional<std::int64_t> article_id;
        if (!request.article.empty()) {
          const auto found = l.tx.exec_params("SELECT id FROM knowledge_base WHERE slug = $1", request.article);
          if (found.empty()) return Refusal{400, "invalid_field", "article: no article '" + request.article + "'", {}};
          article_id = found[0][0].as<std::int64_t>();
        }
        // A stable id per (conversation, key): a retried request that
        // races past the lookup above cannot insert a second message.
        const auto message_id = idempotency_key.empty()
                                    ? random_uuid()
                                    : name_based_uuid(kFteNamespace, "desk-reply:" + id + ":" + idempotency_key);
        const std::string subject =
            channel == "whatsapp"
                ? std::string()
                : (std::string(in[3].c_str()).empty() ? std::string() : "Re: " + std::string(in[3].c_str()));
        l.tx.exec_params(
            "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, sender, author, "
            "  subject, body, status, correlation_id, kb_article_id, channel_metadata, recipient, next_attempt_at, "
            "  created_at, updated_at) "
            "VALUES ($1, $2, NULLIF($3, '')::uuid, $4, 'outbound', $5, 'fte-desk', $6, NULLIF($7, ''), $8, 'pending', "
            "  NULLIF($9, ''), $10, $11::jsonb, $12, clock_timestamp(), clock_timestamp(), clock_timestamp())",
            message_id, in[0].c_str(), in[1].c_str(), l.row.customer_id, channel, who.name, subject, body,
            in[6].c_str(), article_id, metadata.dump(), in[2].c_str());
        if (!idempotency_key.empty()) {
          l.tx.exec_params("INSERT INTO desk_replies (conversation_id, idempotency_key, request_digest, message_id, "
                           "author) VALUES ($1, $2, $3, $4, $5)",
                           id, idempotency_key, digest, message_id, who.name);
        }
        // Delivered to the dispatcher's LISTEN only if this commits.
        l.tx.exec("NOTIFY " + std::string(replies::kRepliesChannel));
        Plan plan{std::get<State>(ruled), {{"message_id", message_id}, {"channel", channel}}, /*responded=*/true};
        if (metadata.contains("template")) plan.detail["template"] = metadata["template"]["name"];
        if (!request.article.empty()) plan.detail["article"] = request.article;
        if (current.status == Status::resolved) plan.detail["reopened"] = true;
        plan.extra["reply"] = {{"id", message_id}, {"status", "pending"}, {"channel", channel}, {"replayed", false}};
        return plan;
      });
}

Answer DeskStore::queue(const access::Principal& who, const QueueQuery& query) const {
  if (query.view == "all" && who.role != access::Role::supervisor) {
    return Refusal{403, "supervisor_only", "only supervisors see every conversation", {}};
  }
  std::string after_due, after_id;
  if (!query.after.empty()) {
    const auto comma = query.after.find(',');
    if (comma == std::string::npos || !parse_rfc3339(query.after.substr(0, comma)) ||
        !is_uuid(query.after.substr(comma + 1))) {
      return Refusal{400, "invalid_cursor", "after must be the `next` value of a previous page", {}};
    }
    after_due = query.after.substr(0, comma);
    after_id = query.after.substr(comma + 1);
  }
  auto connection = database_.acquire();
  pqxx::read_transaction tx(*connection);
  // One statement per view so each uses its index (the queue's due order).
  const std::string where = query.view == "mine"         ? "d.status <> 'resolved' AND d.owner = $1"
                            : query.view == "unassigned" ? "d.status = 'open' AND $1 <> ''"
                                                         : "d.status <> 'resolved' AND $1 <> ''";
  const auto rows = tx.exec_params(
      "SELECT " FTE_CONVERSATION_COLUMNS ", to_char(d.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
      "FROM desk_conversations d LEFT JOIN customers c ON c.id = d.customer_id WHERE " +
          where +
          " AND ($2 = '' OR d.channel = $2) AND ($3 = '' OR d.priority = $3) "
          "AND (NOT $4 OR d.due_at < clock_timestamp()) "
          "AND ($5 = '' OR (d.due_at, d.id) > ($5::timestamptz, NULLIF($6, '')::uuid)) "
          "ORDER BY d.due_at, d.id LIMIT $7",
      who.name, query.channel, query.priority, query.breached, after_due, after_id, query.limit);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& row : rows)
    list.push_back(summary_of(row));
  nlohmann::json answer = {{"conversations", list}};
  // The cursor holds due_at to the microsecond, as stored: a millisecond
  // one would bring the page's last row back.
  if (static_cast<int>(rows.size()) == query.limit && !list.empty()) {
    answer["next"] = std::string(rows.back()[21].c_str()) + "," + list.back()["id"].get<std::string>();
  }
  return answer;
}

Answer DeskStore::conversation(const access::Principal& /*who*/, const std::string& id) const {
  if (!is_uuid(id)) return not_found();
  auto connection = database_.acquire();
  pqxx::read_transaction tx(*connection);
  auto conversation = summary(tx, id);
  if (conversation.is_null()) return not_found();
  const std::string customer = conversation["customer_id"];
  nlohmann::json identifiers = nlohmann::json::array();
  for (const auto& r : tx.exec_params("SELECT kind, value FROM customer_identifiers WHERE customer_id = $1 "
                                      "ORDER BY kind, value",
                                      customer)) {
    identifiers.push_back({{"kind", r[0].c_str()}, {"value", r[1].c_str()}});
  }
  // The customer's whole history across channels, the latest 200 messages.
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& r : tx.exec_params(
           "SELECT * FROM (SELECT m.id::text, m.direction, m.channel, m.sender, m.author, m.subject, m.body, m.status, "
           "  " FTE_TS("m.created_at") ", k.slug, k.title, m.error_code, m.last_error, m.created_at AS t, "
                                       "  m.channel_metadata -> 'template' ->> 'name' "
                                       "FROM messages m LEFT JOIN knowledge_base k ON k.id = m.kb_article_id WHERE "
                                       "m.customer_id = $1 "
                                       "ORDER BY m.created_at DESC, m.id DESC LIMIT 200) x ORDER BY t, id",
           customer)) {
    nlohmann::json m = {{"id", r[0].c_str()},        {"direction", r[1].c_str()}, {"channel", r[2].c_str()},
                        {"sender", r[3].c_str()},    {"body", r[6].c_str()},      {"status", r[7].c_str()},
                        {"created_at", r[8].c_str()}};
    if (!r[4].is_null()) m["author"] = r[4].c_str();
    if (!r[5].is_null()) m["subject"] = r[5].c_str();
    if (!r[9].is_null()) m["article"] = {{"slug", r[9].c_str()}, {"title", r[10].c_str()}};
    if (!r[11].is_null()) m["error_code"] = r[11].c_str();
    if (!r[12].is_null()) m["last_error"] = r[12].c_str();
    if (!r[14].is_null()) m["template"] = r[14].c_str();
    messages.push_back(std::move(m));
  }
  nlohmann::json escalations = nlohmann::json::array();
  for (const auto& r :
       tx.exec_params("SELECT id::text, reason, reason_detail, priority, " FTE_TS(
                          "created_at") ", "
                                        "message_id::text FROM escalations WHERE desk_conversation_id = $1 "
                                        "ORDER BY created_at",
                      id)) {
    nlohmann::json e = {
        {"id", r[0].c_str()}, {"reason", r[1].c_str()}, {"priority", r[3].c_str()}, {"created_at", r[4].c_str()}};
    if (!r[2].is_null()) e["reason_detail"] = r[2].c_str();
    if (!r[5].is_null()) e["message_id"] = r[5].c_str();
    escalations.push_back(std::move(e));
  }
  nlohmann::json notes = nlohmann::json::array();
  for (const auto& r :
       tx.exec_params("SELECT id, author, body, " FTE_TS("created_at") " FROM desk_notes "
                                                                       "WHERE conversation_id = $1 ORDER BY id",
                      id)) {
    notes.push_back(
        {{"id", r[0].as<std::int64_t>()}, {"author", r[1].c_str()}, {"body", r[2].c_str()}, {"at", r[3].c_str()}});
  }
  nlohmann::json audit = nlohmann::json::array();
  for (const auto& r : tx.exec_params(
           "SELECT * FROM (SELECT id, " FTE_TS("at") ", actor, action, version, "
                                                     "detail::text FROM desk_audit WHERE conversation_id = $1 "
                                                     "ORDER BY id DESC LIMIT 200) x ORDER BY id",
           id)) {
    audit.push_back({{"at", r[1].c_str()},
                     {"actor", r[2].c_str()},
                     {"action", r[3].c_str()},
                     {"version", r[4].as<std::int64_t>()},
                     {"detail", nlohmann::json::parse(r[5].c_str())}});
  }
  // Where a reply can go: every channel the customer wrote on, to where.
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& r : tx.exec_params("SELECT DISTINCT ON (channel) channel, sender, "
                                      "  extract(epoch FROM created_at)::float8 FROM messages "
                                      "WHERE customer_id = $1 AND direction = 'inbound' "
                                      "ORDER BY channel, created_at DESC",
                                      customer)) {
    nlohmann::json c = {{"channel", r[0].c_str()}, {"to", r[1].c_str()}};
    if (std::string_view(r[0].c_str()) == "whatsapp") {
      const auto last =
          std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::duration<double>(r[2].as<double>())));
      const auto window = whatsapp_window(last, std::chrono::system_clock::now());
      c["window"] = {{"open", window.open}, {"closes_at", format_rfc3339(*window.closes_at)}};
    }
    channels.push_back(std::move(c));
  }
  nlohmann::json templates = nlohmann::json::array();
  for (const auto& t : settings_.templates)
    templates.push_back({{"name", t.name}, {"text", t.text}, {"variables", template_placeholders(t.text)}});
  return nlohmann::json{
      {"conversation", conversation},
      {"customer", {{"id", customer}, {"name", conversation["customer_name"]}, {"identifiers", identifiers}}},
      {"messages", messages},
      {"escalations", escalations},
      {"notes", notes},
      {"audit", audit},
      {"reply_options",
       {{"default_channel", conversation["channel"]}, {"channels", channels}, {"templates", templates}}}};
}

std::vector<DeskStore::StatusCount> DeskStore::counts() const {
  std::vector<StatusCount> out;
  for (const auto status : {Status::open, Status::assigned, Status::waiting})
    out.push_back(StatusCount{std::string(to_string(status))});
  auto connection = database_.acquire();
  pqxx::read_transaction tx(*connection);
  for (const auto& row : tx.exec("SELECT status, count(*), count(*) FILTER (WHERE due_at < clock_timestamp()) "
                                 "FROM desk_conversations WHERE status <> 'resolved' GROUP BY status")) {
    for (auto& c : out) {
      if (c.status == row[0].c_str()) {
        c.active = row[1].as<std::int64_t>();
        c.breached = row[2].as<std::int64_t>();
      }
    }
  }
  return out;
}

Answer DeskStore::sla() const {
  auto connection = database_.acquire();
  pqxx::read_transaction tx(*connection);
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& r : tx.exec("SELECT priority, first_response_minutes, resolution_minutes, updated_by, " FTE_TS(
           "updated_at") " FROM desk_sla ORDER BY first_response_minutes")) {
    targets.push_back({{"priority", r[0].c_str()},
                       {"first_response_minutes", r[1].as<int>()},
                       {"resolution_minutes", r[2].as<int>()},
                       {"updated_by", r[3].c_str()},
                       {"updated_at", r[4].c_str()}});
  }
  return nlohmann::json{{"targets", targets}};
}

Answer DeskStore::put_sla(const access::Principal& who, const std::vector<SlaTarget>& targets) const {
  if (who.role != access::Role::supervisor) {
    return Refusal{403, "supervisor_only", "only supervisors edit the service-level targets", {}};
  }
  {
    auto connection = database_.acquire();
    pqxx::work tx(*connection);
    for (const auto& t : targets) {
      tx.exec_params("UPDATE desk_sla SET first_response_minutes = $2, resolution_minutes = $3, updated_by = $4, "
                     "updated_at = clock_timestamp() WHERE priority = $1",
                     t.priority, t.first_response_minutes, t.resolution_minutes, who.name);
    }
    tx.commit();
  }
  return sla();
}

} // namespace fte::escalation::desk
