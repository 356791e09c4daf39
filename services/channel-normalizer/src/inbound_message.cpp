#include "inbound_message.hpp"

#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {

events::CloudEvent ticket_message_event(InboundMessage&& message, const std::string& customer_id) {
  auto data = std::move(message.fields);
  data["customer_id"] = customer_id;
  data["channel"] = message.channel;
  nlohmann::json sender = {{"kind", identity::to_string(message.sender.kind)}, {"address", message.sender.address}};
  if (!message.sender.display_name.empty()) sender["display_name"] = std::move(message.sender.display_name);
  data["sender"] = std::move(sender);
  data["source_event_id"] = message.cause->id;
  data["source_topic"] = std::move(message.source_topic);
  // Built to proto/'s schema and checked against it in the unit tests; the
  // agent-worker validates what it receives.
  auto ticket = events::derive_event(*message.cause, kProducer, "ticket", std::string(kSource),
                                     std::string(kTicketMessageType), std::move(data));
  if (message.id) ticket.id = message.id->str();
  ticket.customerid = customer_id;
  ticket.subject = customer_id;
  return ticket;
}

events::CloudEvent delivery_update_event(DeliveryUpdate&& update, const std::string& customer_id) {
  auto data = std::move(update.fields);
  data["customer_id"] = customer_id;
  data["source_event_id"] = update.cause->id;
  auto event = events::derive_event(*update.cause, kProducer, "delivery", std::string(kSource),
                                    std::string(kDeliveryUpdatedType), std::move(data));
  event.customerid = customer_id;
  event.subject = customer_id;
  return event;
}

std::string required_string(const nlohmann::json& data, const char* field, std::string_view event_type) {
  const auto it = data.find(field);
  if (it == data.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw kafka::PoisonError(std::string(event_type) + " without '" + field + "'");
  }
  return it->get<std::string>();
}

} // namespace fte::normalizer
