#include "escalation_handler.hpp"

#include "fte/pg/dedup.hpp"

namespace fte::escalation {
namespace {

constexpr const char* kRecordEscalationSql =
    "INSERT INTO escalations (ticket_id, customer_id, message_id, reason, reason_detail, priority, summary, "
    "source_event_id, correlation_id) VALUES ($1::uuid, $2::uuid, $3::uuid, $4, NULLIF($5, ''), $6, $7, $8, $9) "
    "ON CONFLICT (source_event_id) DO NOTHING RETURNING id::text";
constexpr const char* kMarkTicketSql =
    "UPDATE tickets SET status = 'escalated', updated_at = now() WHERE id = $1::uuid AND status <> 'escalated'";

std::string text(const nlohmann::json& data, const char* field) {
  const auto it = data.find(field);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

EscalationHandler::EscalationHandler(std::string group, pg::ConnectionPool& database)
    : group_(std::move(group)), database_(database) {}

kafka::HandleResult EscalationHandler::operator()(const kafka::Delivery& delivery) const {
  const auto& event = delivery.event;
  if (event.type != kEscalationType) {
    return kafka::HandleResult::poison("escalation does not handle event type '" + event.type + "'");
  }
  const auto& d = event.data;
  auto connection = database_.acquire();
  const auto outcome = pg::run_once(*connection, GroupId(group_), EventId(event.id), [&](pqxx::work& tx) {
    const auto inserted = tx.exec_params(kRecordEscalationSql, text(d, "ticket_id"), text(d, "customer_id"),
                                         text(d, "message_id"), text(d, "reason"), text(d, "reason_detail"),
                                         text(d, "priority"), text(d, "summary"), event.id, event.correlationid);
    tx.exec_params(kMarkTicketSql, text(d, "ticket_id"));
    if (!inserted.empty()) {
      delivery.log.info("escalation recorded", {{"escalation_id", inserted[0][0].as<std::string>()},
                                                {"ticket_id", text(d, "ticket_id")},
                                                {"reason", text(d, "reason")},
                                                {"priority", text(d, "priority")}});
    }
  });
  if (outcome == pg::DedupOutcome::duplicate) {
    delivery.log.info("escalation already recorded");
  }
  return kafka::HandleResult::done();
}

} // namespace fte::escalation
