#include "escalation_handler.hpp"

#include "fte/pg/array_literal.hpp"

namespace fte::escalation {
namespace {

// clock_timestamp() in request order: created_at keeps the order of the
// requests within a batch (a shared now() would tie them).
constexpr const char* kRecordEscalations = "escalation_record";
constexpr const char* kRecordEscalationsSql =
    "INSERT INTO escalations (ticket_id, customer_id, message_id, reason, reason_detail, priority, summary, "
    "source_event_id, correlation_id, created_at, updated_at) "
    "SELECT ticket_id, customer_id, message_id, reason, NULLIF(reason_detail, ''), priority, summary, "
    "source_event_id, correlation_id, clock_timestamp(), clock_timestamp() "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[]) WITH ORDINALITY AS e(ticket_id, customer_id, message_id, reason, reason_detail, priority, summary, "
    "source_event_id, correlation_id, ord) ORDER BY ord ON CONFLICT (source_event_id) DO NOTHING";
// Sorted ids: row locks taken in one order by every lane.
constexpr const char* kMarkTickets = "escalation_mark_tickets";
constexpr const char* kMarkTicketsSql = "UPDATE tickets t SET status = 'escalated', updated_at = clock_timestamp() "
                                        "FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS u(id) ORDER BY id) u "
                                        "WHERE t.id = u.id AND t.status <> 'escalated'";

} // namespace

void EscalationHandler::prepare(pqxx::connection& connection) const {
  connection.prepare(kRecordEscalations, kRecordEscalationsSql);
  connection.prepare(kMarkTickets, kMarkTicketsSql);
  desk::prepare_handovers(connection);
}

void EscalationHandler::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                              runtime::Outputs& outputs) const {
  std::vector<desk::Handover> handovers;
  handovers.reserve(fresh.size());
  pg::ArrayLiteral tickets, customers, messages, reasons, details, priorities, summaries, sources, correlations;
  for (const auto* d : fresh) {
    const auto& data = d->event.data;
    // The schema makes these present; an id that is no uuid fails the cast
    // (SQLSTATE 22P02) and only that record goes to the DLQ.
    tickets.add(events::string_field(data, "ticket_id"));
    customers.add(events::string_field(data, "customer_id"));
    messages.add_or_null(events::string_field(data, "message_id"));
    reasons.add(events::string_field(data, "reason"));
    details.add(events::string_field(data, "reason_detail"));
    priorities.add(events::string_field(data, "priority"));
    summaries.add(events::string_field(data, "summary"));
    sources.add(d->event.id);
    correlations.add(d->event.correlationid);
    handovers.push_back(desk::Handover{&d->event, events::string_field(data, "customer_id"),
                                       events::string_field(data, "message_id"), events::string_field(data, "channel"),
                                       events::string_field(data, "priority"), events::string_field(data, "reason")});
  }
  tx.exec_prepared(kRecordEscalations, tickets.str(), customers.str(), messages.str(), reasons.str(), details.str(),
                   priorities.str(), summaries.str(), sources.str(), correlations.str());
  tx.exec_prepared(kMarkTickets, tickets.str());
  desk::take_handovers(tx, settings_, handovers, outputs, activity_topic_);
}

} // namespace fte::escalation
