#include "decisions.hpp"

#include <chrono>
#include <map>

#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::cli {
namespace {

// Times come back as microseconds since the epoch (`(extract(epoch FROM t)
// * 1000000)::bigint`): the session's DateStyle and TimeZone then cannot
// change what is printed.
constexpr const char* kInboundColumns =
    "SELECT m.id::text, m.source_event_id, coalesce(m.correlation_id, ''), m.customer_id::text, m.channel, "
    "m.sender, m.status, m.subject, m.body, (extract(epoch FROM m.created_at) * 1000000)::bigint, "
    "t.id::text, t.status, t.priority, t.subject, t.category, m.conversation_id::text "
    "FROM messages m LEFT JOIN tickets t ON t.id = m.ticket_id "
    "WHERE m.direction = 'inbound' AND m.source_event_id IS NOT NULL ";
constexpr const char* kInboundOrder = " ORDER BY m.created_at, m.source_event_id";
// Each condition alone when only one is asked for: the event id is indexed
// (messages_inbound_source_event_uq), the correlation id is not, and an OR
// of the two would scan the table for a replay diff's event ids too.
constexpr const char* kInboundByEvent = "AND m.source_event_id = ANY($1::text[])";
constexpr const char* kInboundByCorrelation = "AND m.correlation_id = ANY($1::text[])";
constexpr const char* kInboundByEither =
    "AND (m.source_event_id = ANY($1::text[]) OR m.correlation_id = ANY($2::text[]))";

// The agent-worker writes one reply per message (its id is derived from
// the event id); should there ever be more, the first one is the answer.
// A reply is in its message's conversation: that finds it through an
// index (messages_conversation_idx), where source_event_id is indexed for
// inbound rows only.
constexpr const char* kRepliesSql =
    "SELECT o.source_event_id, o.id::text, o.status, o.body, o.kb_article_id, kb.slug, kb.title, o.kb_score, "
    "o.provider_message_id, o.attempts, o.last_error, (extract(epoch FROM o.sent_at) * 1000000)::bigint, "
    "(extract(epoch FROM o.created_at) * 1000000)::bigint "
    "FROM messages o LEFT JOIN knowledge_base kb ON kb.id = o.kb_article_id "
    "WHERE o.conversation_id = ANY($2::uuid[]) AND o.direction = 'outbound' AND o.source_event_id = ANY($1::text[]) "
    "ORDER BY o.created_at, o.id";

// Every escalation row of a message names it in message_id (the agent's
// decision and the dispatcher's "reply not delivered" alike); the agent's
// own is also found by its event id, derived from the message's, for a row
// whose message_id is NULL (the schema lets the event omit it).
constexpr const char* kEscalationsSql =
    "SELECT e.id::text, coalesce(e.message_id::text, ''), e.ticket_id::text, e.reason, e.reason_detail, e.priority, "
    "e.status, e.source_event_id, (extract(epoch FROM e.created_at) * 1000000)::bigint "
    "FROM escalations e WHERE e.message_id = ANY($1::uuid[]) OR e.source_event_id = ANY($2::text[]) "
    "ORDER BY e.created_at, e.id";

std::string rfc3339_from_us(const pqxx::field& field) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::microseconds(field.as<std::int64_t>())));
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

// The id of the escalation event the agent-worker derives from a message's
// event (agent_handler.cpp: derive_event(event, "agent-worker", "escalation")).
std::string agent_escalation_event_id(const std::string& source_event_id) {
  return derived_event_id(EventId(source_event_id), "agent-worker", "escalation").str();
}

using ReadOnlySnapshot = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

std::vector<Decision> read_decisions(ReadOnlySnapshot& tx, const pqxx::result& inbound_rows) {
  std::vector<Decision> decisions;
  decisions.reserve(inbound_rows.size());
  std::map<std::string, std::size_t> by_source_event, by_message, by_agent_escalation;
  pg::ArrayLiteral source_events, message_ids, agent_escalations, conversations;
  for (const auto& row : inbound_rows) {
    Decision d;
    d.inbound = InboundRow{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                           row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                           row[6].as<std::string>(), optional_text(row[7]),    row[8].as<std::string>(),
                           rfc3339_from_us(row[9])};
    if (!row[10].is_null()) {
      d.ticket = TicketRow{row[10].as<std::string>(), row[11].as<std::string>(), row[12].as<std::string>(),
                           optional_text(row[13]), optional_text(row[14])};
    }
    const auto index = decisions.size();
    by_source_event.emplace(d.inbound.source_event_id, index);
    by_message.emplace(d.inbound.id, index);
    const auto escalation_event = agent_escalation_event_id(d.inbound.source_event_id);
    by_agent_escalation.emplace(escalation_event, index);
    source_events.add(d.inbound.source_event_id);
    conversations.add(row[15].as<std::string>());
    message_ids.add(d.inbound.id);
    agent_escalations.add(escalation_event);
    decisions.push_back(std::move(d));
  }
  if (decisions.empty()) return decisions;

  for (const auto& row : tx.exec_params(kRepliesSql, source_events.str(), conversations.str())) {
    auto& d = decisions.at(by_source_event.at(row[0].as<std::string>()));
    if (d.reply) continue;
    ReplyRow reply;
    reply.id = row[1].as<std::string>();
    reply.status = row[2].as<std::string>();
    reply.body = row[3].as<std::string>();
    if (!row[4].is_null()) reply.kb_article_id = row[4].as<std::int64_t>();
    if (reply.kb_article_id && !row[5].is_null()) {
      reply.kb_article = KbArticle{*reply.kb_article_id, row[5].as<std::string>(), row[6].as<std::string>()};
    }
    if (!row[7].is_null()) reply.kb_score = row[7].as<double>();
    reply.provider_message_id = optional_text(row[8]);
    reply.attempts = row[9].as<int>();
    reply.last_error = optional_text(row[10]);
    if (!row[11].is_null()) reply.sent_at = rfc3339_from_us(row[11]);
    reply.stored_at = rfc3339_from_us(row[12]);
    d.reply = std::move(reply);
  }

  for (const auto& row : tx.exec_params(kEscalationsSql, message_ids.str(), agent_escalations.str())) {
    EscalationRow e{row[0].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(),
                    optional_text(row[4]),    row[5].as<std::string>(), row[6].as<std::string>(),
                    row[7].as<std::string>(), rfc3339_from_us(row[8]),  false};
    const auto agent = by_agent_escalation.find(e.source_event_id);
    e.by_agent = agent != by_agent_escalation.end();
    const auto index = e.by_agent ? agent->second : by_message.at(row[1].as<std::string>());
    decisions.at(index).escalations.push_back(std::move(e));
  }

  for (auto& d : decisions) {
    if (d.reply) {
      d.outcome = Outcome::answered;
    } else if (d.deciding_escalation() != nullptr || (d.ticket && d.ticket->status == "escalated")) {
      d.outcome = Outcome::escalated;
    } else {
      d.outcome = Outcome::pending;
    }
  }
  return decisions;
}

nlohmann::json optional_json(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json escalation_json(const EscalationRow& e) {
  return {{"id", e.id},
          {"ticket_id", e.ticket_id},
          {"reason", e.reason},
          {"reason_detail", optional_json(e.reason_detail)},
          {"priority", e.priority},
          {"status", e.status},
          {"source_event_id", e.source_event_id},
          {"created_at", e.created_at},
          {"by_agent", e.by_agent}};
}

} // namespace

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
  case Outcome::answered: return "answered";
  case Outcome::escalated: return "escalated";
  case Outcome::pending: return "pending";
  }
  return "pending";
}

const EscalationRow* Decision::deciding_escalation() const noexcept {
  if (reply) return nullptr;
  for (const auto& e : escalations) {
    if (e.by_agent) return &e;
  }
  return nullptr;
}

std::optional<std::int64_t> Decision::kb_article_id() const noexcept {
  return reply ? reply->kb_article_id : std::nullopt;
}

std::optional<double> Decision::kb_score() const noexcept { return reply ? reply->kb_score : std::nullopt; }

nlohmann::json to_json(const Decision& d) {
  nlohmann::json out = {{"correlation_id", d.inbound.correlation_id},
                        {"source_event_id", d.inbound.source_event_id},
                        {"message_id", d.inbound.id},
                        {"customer_id", d.inbound.customer_id},
                        {"channel", d.inbound.channel},
                        {"stored_at", d.inbound.stored_at},
                        {"outcome", to_string(d.outcome)},
                        {"ticket", nullptr},
                        {"kb_article", nullptr},
                        {"kb_score", nullptr},
                        {"reply", nullptr},
                        {"escalation", nullptr},
                        {"escalations", nlohmann::json::array()}};
  if (d.ticket) {
    out["ticket"] = {{"id", d.ticket->id}, {"status", d.ticket->status}, {"priority", d.ticket->priority}};
  }
  if (d.reply) {
    const auto& r = *d.reply;
    if (r.kb_article) {
      out["kb_article"] = {{"id", r.kb_article->id}, {"slug", r.kb_article->slug}, {"title", r.kb_article->title}};
    } else if (r.kb_article_id) {
      out["kb_article"] = {{"id", *r.kb_article_id}, {"slug", nullptr}, {"title", nullptr}};
    }
    if (r.kb_score) out["kb_score"] = *r.kb_score;
    out["reply"] = {{"id", r.id},
                    {"status", r.status},
                    {"text", r.body},
                    {"provider_message_id", optional_json(r.provider_message_id)}};
  }
  if (const auto* e = d.deciding_escalation()) out["escalation"] = escalation_json(*e);
  for (const auto& e : d.escalations)
    out["escalations"].push_back(escalation_json(e));
  return out;
}

nlohmann::json rows_json(const Decision& d) {
  const auto& in = d.inbound;
  nlohmann::json out = {{"source_event_id", in.source_event_id},
                        {"outcome", to_string(d.outcome)},
                        {"ticket", nullptr},
                        {"inbound",
                         {{"id", in.id},
                          {"source_event_id", in.source_event_id},
                          {"correlation_id", in.correlation_id},
                          {"customer_id", in.customer_id},
                          {"channel", in.channel},
                          {"sender", in.sender},
                          {"status", in.status},
                          {"subject", optional_json(in.subject)},
                          {"body", in.body},
                          {"created_at", in.stored_at}}},
                        {"outbound", nullptr},
                        {"escalations", nlohmann::json::array()}};
  if (d.ticket) {
    const auto& t = *d.ticket;
    out["ticket"] = {{"id", t.id},
                     {"status", t.status},
                     {"priority", t.priority},
                     {"subject", optional_json(t.subject)},
                     {"category", optional_json(t.category)}};
  }
  if (d.reply) {
    const auto& r = *d.reply;
    nlohmann::json article = nullptr;
    if (r.kb_article)
      article = {{"id", r.kb_article->id}, {"slug", r.kb_article->slug}, {"title", r.kb_article->title}};
    out["outbound"] = {{"id", r.id},
                       {"status", r.status},
                       {"body", r.body},
                       {"kb_article_id", r.kb_article_id ? nlohmann::json(*r.kb_article_id) : nlohmann::json(nullptr)},
                       {"kb_article", std::move(article)},
                       {"kb_score", r.kb_score ? nlohmann::json(*r.kb_score) : nlohmann::json(nullptr)},
                       {"provider_message_id", optional_json(r.provider_message_id)},
                       {"attempts", r.attempts},
                       {"last_error", optional_json(r.last_error)},
                       {"sent_at", optional_json(r.sent_at)},
                       {"created_at", r.stored_at}};
  }
  for (const auto& e : d.escalations)
    out["escalations"].push_back(escalation_json(e));
  return out;
}

std::vector<Decision> load_decisions(pqxx::connection& connection, const DecisionQuery& query) {
  if (query.source_event_ids.empty() && query.correlation_ids.empty()) return {};
  pg::ArrayLiteral source_events, correlations;
  for (const auto& id : query.source_event_ids)
    source_events.add(id);
  for (const auto& id : query.correlation_ids)
    correlations.add(id);
  ReadOnlySnapshot tx(connection);
  const std::string select = kInboundColumns;
  const auto inbound =
      query.correlation_ids.empty() ? tx.exec_params(select + kInboundByEvent + kInboundOrder, source_events.str())
      : query.source_event_ids.empty()
          ? tx.exec_params(select + kInboundByCorrelation + kInboundOrder, correlations.str())
          : tx.exec_params(select + kInboundByEither + kInboundOrder, source_events.str(), correlations.str());
  return read_decisions(tx, inbound);
}

std::vector<Decision> load_all_decisions(pqxx::connection& connection) {
  ReadOnlySnapshot tx(connection);
  const auto inbound = tx.exec(std::string(kInboundColumns) + kInboundOrder);
  return read_decisions(tx, inbound);
}

} // namespace fte::cli
