#include "normalizer_handler.hpp"

#include "customer_directory.hpp"
#include "webform_normalizer.hpp"

namespace fte::normalizer {

NormalizerHandler::NormalizerHandler(kafka::TopicNames topics) : topics_(std::move(topics)) {}

void NormalizerHandler::prepare(pqxx::connection& connection) const { CustomerDirectory::prepare(connection); }

void NormalizerHandler::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                              runtime::Outputs& outputs) const {
  std::vector<Sender> senders;
  senders.reserve(fresh.size());
  for (const auto* d : fresh)
    senders.push_back(webform_sender(d->event));
  const auto customers = CustomerDirectory::resolve(tx, senders);
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const auto& event = fresh[i]->event;
    const auto& customer_id = customers.at({senders[i].kind, senders[i].address});
    // Built to proto/'s schema and checked against it in the unit tests; the
    // agent-worker validates what it receives.
    auto ticket = events::derive_event(event, "channel-normalizer", "ticket", std::string(kSource),
                                       std::string(kTicketMessageType),
                                       ticket_message_from_webform(event, customer_id, fresh[i]->record.topic));
    ticket.customerid = customer_id;
    ticket.subject = customer_id;
    outputs.add_event(event.id, topics_.tickets_incoming, customer_id, ticket);
  }
}

} // namespace fte::normalizer
