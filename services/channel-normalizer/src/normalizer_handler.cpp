#include "normalizer_handler.hpp"

#include "customer_directory.hpp"
#include "fte/pg/dedup.hpp"
#include "webform_normalizer.hpp"

namespace fte::normalizer {

NormalizerHandler::NormalizerHandler(std::string group, kafka::TopicNames topics, pg::ConnectionPool& database,
                                     kafka::Producer& producer, const contracts::Validator& validator)
    : group_(std::move(group)), topics_(std::move(topics)), database_(database), producer_(producer),
      validator_(validator) {}

kafka::HandleResult NormalizerHandler::operator()(const kafka::Delivery& delivery) const {
  const auto& event = delivery.event;
  if (event.type != kWebformType) {
    return kafka::HandleResult::poison("channel-normalizer does not handle event type '" + event.type + "'");
  }
  const Sender sender = webform_sender(event);
  auto connection = database_.acquire();
  const auto outcome = pg::run_once(*connection, GroupId(group_), EventId(event.id), [&](pqxx::work& tx) {
    const auto customer_id = resolve_customer(tx, sender);
    auto ticket = events::derive_event(event, "channel-normalizer", "ticket", std::string(kSource),
                                       std::string(kTicketMessageType),
                                       ticket_message_from_webform(event, customer_id, delivery.record.topic));
    ticket.customerid = customer_id;
    ticket.subject = customer_id;
    if (auto violation = validator_.validate(ticket)) {
      throw kafka::PoisonError("normalised message violates proto/: " + *violation);
    }
    // Published inside the transaction: if the broker does not acknowledge,
    // the transaction rolls back and the runner retries the whole record.
    const auto report =
        producer_.send(kafka::ProducerRecord::from_event(topics_.tickets_incoming, customer_id, ticket));
    if (!report.ok()) {
      throw std::runtime_error("publishing the ticket message failed: " + report.error.message() + " (" +
                               report.detail + ")");
    }
    delivery.log.info("ticket message published", {{"customer_id", customer_id},
                                                   {"ticket_event_id", ticket.id},
                                                   {"partition", report.partition},
                                                   {"offset", report.offset}});
  });
  if (outcome == pg::DedupOutcome::duplicate) {
    delivery.log.info("already normalised; nothing published");
  }
  return kafka::HandleResult::done();
}

} // namespace fte::normalizer
