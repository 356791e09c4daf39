#include "agent_handler.hpp"

#include <future>

#include "fte/common/time.hpp"
#include "fte/pg/dedup.hpp"
#include "knowledge_base.hpp"

namespace fte::agent {
namespace {

constexpr const char* kFindConversationSql =
    "SELECT id::text FROM conversations WHERE customer_id = $1::uuid AND channel = $2 AND status = 'open' "
    "ORDER BY last_message_at DESC LIMIT 1 FOR UPDATE";
constexpr const char* kOpenConversationSql =
    "INSERT INTO conversations (customer_id, channel) VALUES ($1::uuid, $2) RETURNING id::text";
constexpr const char* kTouchConversationSql = "UPDATE conversations SET last_message_at = now() WHERE id = $1::uuid";
constexpr const char* kFindOpenTicketSql =
    "SELECT id::text FROM tickets WHERE conversation_id = $1::uuid AND status IN ('open', 'answered') "
    "ORDER BY created_at DESC LIMIT 1";
constexpr const char* kOpenTicketSql =
    "INSERT INTO tickets (conversation_id, customer_id, subject, category, priority) "
    "VALUES ($1::uuid, $2::uuid, NULLIF($3, ''), NULLIF($4, ''), $5) RETURNING id::text";
constexpr const char* kStoreInboundSql =
    "INSERT INTO messages (conversation_id, ticket_id, customer_id, direction, channel, sender, subject, body, "
    "status, source_event_id, correlation_id) VALUES ($1::uuid, $2::uuid, $3::uuid, 'inbound', $4, $5, "
    "NULLIF($6, ''), $7, 'received', $8, $9) RETURNING id::text";
constexpr const char* kStoreReplySql =
    "INSERT INTO messages (conversation_id, ticket_id, customer_id, direction, channel, sender, subject, body, "
    "status, source_event_id, correlation_id, kb_article_id, kb_score) VALUES ($1::uuid, $2::uuid, $3::uuid, "
    "'outbound', $4, 'fte-agent', NULLIF($5, ''), $6, 'pending', $7, $8, $9, $10) RETURNING id::text";
constexpr const char* kTicketStatusSql =
    "UPDATE tickets SET status = $2, priority = $3, updated_at = now() WHERE id = $1::uuid";

std::string text_or(const nlohmann::json& data, const char* field, std::string fallback = {}) {
  const auto it = data.find(field);
  return it != data.end() && it->is_string() ? it->get<std::string>() : fallback;
}

} // namespace

AgentHandler::AgentHandler(AgentOptions options, pg::ConnectionPool& database, kafka::Producer& producer,
                           const contracts::Validator& validator)
    : options_(std::move(options)), database_(database), producer_(producer), validator_(validator) {}

kafka::HandleResult AgentHandler::operator()(const kafka::Delivery& delivery) const {
  const auto& event = delivery.event;
  if (event.type != kTicketMessageType) {
    return kafka::HandleResult::poison("agent-worker does not handle event type '" + event.type + "'");
  }
  const auto& d = event.data;
  const std::string customer_id = text_or(d, "customer_id");
  const std::string channel = text_or(d, "channel");
  const std::string subject = text_or(d, "subject");
  const std::string body = text_or(d, "body");
  const std::string requested_priority = text_or(d, "priority", "normal");
  const std::string sender = d.contains("sender") ? text_or(d["sender"], "address") : std::string();
  const auto received_at = parse_rfc3339(text_or(d, "received_at")).value_or(event.time);

  auto connection = database_.acquire();
  const auto outcome = pg::run_once(*connection, GroupId(options_.group), EventId(event.id), [&](pqxx::work& tx) {
    std::string conversation_id;
    if (const auto open = tx.exec_params(kFindConversationSql, customer_id, channel); !open.empty()) {
      conversation_id = open[0][0].as<std::string>();
      tx.exec_params(kTouchConversationSql, conversation_id);
    } else {
      conversation_id = tx.exec_params1(kOpenConversationSql, customer_id, channel)[0].as<std::string>();
    }
    // A form submission is a new case; chat and mail continue the open one.
    std::string ticket_id;
    if (channel != "webform") {
      if (const auto open = tx.exec_params(kFindOpenTicketSql, conversation_id); !open.empty()) {
        ticket_id = open[0][0].as<std::string>();
      }
    }
    if (ticket_id.empty()) {
      ticket_id = tx.exec_params1(kOpenTicketSql, conversation_id, customer_id, subject, text_or(d, "category"),
                                  requested_priority)[0]
                      .as<std::string>();
    }
    const auto message_id = tx.exec_params1(kStoreInboundSql, conversation_id, ticket_id, customer_id, channel, sender,
                                            subject, body, event.id, event.correlationid)[0]
                                .as<std::string>();

    const std::string text = subject.empty() ? body : subject + "\n" + body;
    const auto article = best_article(tx, text);
    std::optional<EscalationDecision> escalation = policy_.evaluate(text, requested_priority);
    if (!escalation && (!article || article->score < options_.min_score)) {
      escalation = EscalationPolicy::low_confidence(article ? article->score : 0.0, requested_priority);
    }

    std::vector<std::future<kafka::DeliveryReport>> acks;
    const auto publish = [&](events::CloudEvent out, const std::string& topic) {
      out.customerid = customer_id;
      out.subject = customer_id;
      if (auto violation = validator_.validate(out)) {
        throw kafka::PoisonError("agent output violates proto/: " + *violation);
      }
      acks.push_back(producer_.send_async(kafka::ProducerRecord::from_event(topic, customer_id, out)));
    };

    if (escalation) {
      tx.exec_params(kTicketStatusSql, ticket_id, "escalated", escalation->priority);
      publish(events::derive_event(event, "agent-worker", "escalation", std::string(kSource),
                                   std::string(kEscalationType),
                                   {{"customer_id", customer_id},
                                    {"ticket_id", ticket_id},
                                    {"conversation_id", conversation_id},
                                    {"message_id", message_id},
                                    {"reason", escalation->reason},
                                    {"reason_detail", truncate_utf8(escalation->detail, 1000)},
                                    {"priority", escalation->priority},
                                    {"channel", channel},
                                    {"summary", truncate_utf8(text, 2000)},
                                    {"source_event_id", event.id},
                                    {"requested_at", format_rfc3339(std::chrono::system_clock::now())}}),
              options_.topics.escalations);
    } else {
      tx.exec_params(kStoreReplySql, conversation_id, ticket_id, customer_id, channel,
                     subject.empty() ? std::string() : "Re: " + subject, article->body, event.id, event.correlationid,
                     article->id, article->score);
      tx.exec_params(kTicketStatusSql, ticket_id, "answered", requested_priority);
    }

    const auto now = std::chrono::system_clock::now();
    const double latency_ms = std::max(0.0, std::chrono::duration<double, std::milli>(now - received_at).count());
    publish(events::derive_event(event, "agent-worker", "metric", std::string(kSource), std::string(kMetricType),
                                 {{"customer_id", customer_id},
                                  {"ticket_id", ticket_id},
                                  {"message_id", message_id},
                                  {"channel", channel},
                                  {"outcome", escalation ? "escalated" : "answered"},
                                  {"latency_ms", latency_ms},
                                  {"kb_score", article ? nlohmann::json(article->score) : nlohmann::json(nullptr)},
                                  {"kb_article_id", article ? nlohmann::json(article->id) : nlohmann::json(nullptr)},
                                  {"processed_at", format_rfc3339(now)},
                                  {"source_event_id", event.id}}),
            options_.topics.metrics_agent);

    for (auto& ack : acks) {
      const auto report = ack.get();
      if (!report.ok()) {
        throw std::runtime_error("publishing to " + report.topic + " failed: " + report.error.message());
      }
    }
    delivery.log.info(escalation ? "message escalated" : "message answered",
                      {{"customer_id", customer_id},
                       {"ticket_id", ticket_id},
                       {"kb_article", article ? article->slug : ""},
                       {"kb_score", article ? article->score : 0.0},
                       {"reason", escalation ? escalation->reason : ""}});
  });
  if (outcome == pg::DedupOutcome::duplicate) {
    delivery.log.info("already processed; nothing stored or published");
  }
  return kafka::HandleResult::done();
}

} // namespace fte::agent
