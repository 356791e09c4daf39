#include "normalizer_handler.hpp"

#include <map>

#include "customer_directory.hpp"
#include "webform_normalizer.hpp"
#include "whatsapp_normalizer.hpp"

namespace fte::normalizer {

NormalizerHandler::NormalizerHandler(kafka::TopicNames topics, std::shared_ptr<const EmailFetcher> email)
    : topics_(std::move(topics)), email_(std::move(email)) {}

void NormalizerHandler::prepare(pqxx::connection& connection) const {
  CustomerDirectory::prepare(connection);
  PgMailboxStore::prepare(connection);
}

void NormalizerHandler::normalize(const kafka::Delivery& delivery, std::vector<NormalizedItem>& items) {
  const auto& event = delivery.event;
  if (event.type == kWebformType) {
    items.emplace_back(inbound_from_webform(event, delivery.record.topic));
  } else if (event.type == kWhatsappMessageType) {
    items.emplace_back(inbound_from_whatsapp(event, delivery.record.topic));
  } else if (event.type == kWhatsappStatusType) {
    items.emplace_back(delivery_update_from_whatsapp(event));
  } else {
    throw kafka::PoisonError("channel-normalizer has no channel for events of type " + event.type);
  }
}

void NormalizerHandler::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                              runtime::Outputs& outputs) const {
  std::vector<NormalizedItem> items;
  items.reserve(fresh.size());
  std::vector<const kafka::Delivery*> notifications;
  for (const auto* d : fresh) {
    if (d->event.type == kEmailNotificationType) {
      notifications.push_back(d);
    } else {
      normalize(*d, items);
    }
  }
  if (!notifications.empty()) fetch_email(tx, notifications, items);

  std::vector<const InboundMessage*> messages;
  std::set<identity::Identifier> looked_up; // found, never created
  for (const auto& item : items) {
    if (const auto* message = std::get_if<InboundMessage>(&item)) {
      messages.push_back(message);
      looked_up.insert(message->claims.begin(), message->claims.end());
    } else {
      looked_up.insert(std::get<DeliveryUpdate>(item).recipient.identifier());
    }
  }
  // Senders first, so a claim on a number whose first message is in this
  // same batch already finds its owner.
  const auto senders = messages.empty() ? CustomerDirectory::Resolved{} : CustomerDirectory::resolve(tx, messages);
  const auto owners = CustomerDirectory::find(tx, looked_up);

  std::vector<CustomerDirectory::Claim> claims;
  for (const auto* message : messages) {
    const auto& customer_id = senders.at(message->sender.identifier());
    for (const auto& claimed : message->claims) {
      const auto owner = owners.find(claimed);
      // Nobody's: not linked (a form is no proof), only kept in the
      // message's channel_metadata. The sender's own: nothing to decide.
      if (owner == owners.end() || owner->second == customer_id) continue;
      claims.push_back({claimed, owner->second, customer_id, message->cause->id});
    }
  }
  CustomerDirectory::record_merge_candidates(tx, claims);

  for (auto& item : items) {
    if (auto* message = std::get_if<InboundMessage>(&item)) {
      const auto& customer_id = senders.at(message->sender.identifier());
      const auto source_event_id = message->cause->id;
      outputs.add_event(source_event_id, topics_.tickets_incoming, customer_id,
                        ticket_message_event(std::move(*message), customer_id));
      continue;
    }
    auto& update = std::get<DeliveryUpdate>(item);
    const auto owner = owners.find(update.recipient.identifier());
    if (owner == owners.end()) {
      // We only write to numbers that wrote to us, so a report about a
      // number no customer has is not ours (another service on the same
      // Twilio account) or refers to a customer since unlinked: nothing to
      // update, and retrying will not change that.
      throw kafka::PoisonError("WhatsApp status for " + update.recipient.address +
                               ", a number no customer has (message " +
                               events::string_field(update.fields, "provider_message_id") + ")");
    }
    const auto source_event_id = update.cause->id;
    outputs.add_event(source_event_id, topics_.tickets_incoming, owner->second,
                      delivery_update_event(std::move(update), owner->second));
  }
}

void NormalizerHandler::fetch_email(pqxx::work& tx, const std::vector<const kafka::Delivery*>& notifications,
                                    std::vector<NormalizedItem>& items) const {
  if (!email_) {
    throw kafka::PoisonError("an email notification arrived but Gmail API access is not configured "
                             "(FTE_GMAIL_CLIENT_ID/SECRET/REFRESH_TOKEN or FTE_GOOGLE_SERVICE_ACCOUNT_FILE)");
  }
  // One fetch per mailbox however many of its pushes the batch holds, in
  // mailbox order: cursor rows are locked in one order by every lane.
  std::map<std::string, std::vector<EmailNotification>> by_mailbox;
  for (const auto* d : notifications) {
    auto notification = EmailFetcher::notification_of(*d);
    by_mailbox[notification.mailbox].push_back(std::move(notification));
  }
  PgMailboxStore store(tx);
  for (const auto& [mailbox, list] : by_mailbox) {
    for (auto& message : email_->fetch(store, mailbox, list))
      items.emplace_back(std::move(message));
  }
}

} // namespace fte::normalizer
