#include "normalizer_handler.hpp"

#include <map>

#include "customer_directory.hpp"
#include "webform_normalizer.hpp"

namespace fte::normalizer {

NormalizerHandler::NormalizerHandler(kafka::TopicNames topics, std::shared_ptr<const EmailFetcher> email)
    : topics_(std::move(topics)), email_(std::move(email)) {}

void NormalizerHandler::prepare(pqxx::connection& connection) const {
  CustomerDirectory::prepare(connection);
  PgMailboxStore::prepare(connection);
}

void NormalizerHandler::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                              runtime::Outputs& outputs) const {
  std::vector<const kafka::Delivery*> webforms;
  // Per mailbox, in mailbox order: the cursor rows are locked in one order.
  std::map<std::string, std::vector<EmailNotification>> notifications;
  std::map<std::string, const kafka::Delivery*> last_notification;
  for (const auto* d : fresh) {
    if (d->event.type == kEmailNotificationType) {
      auto notification = EmailFetcher::notification_of(*d);
      last_notification[notification.mailbox] = d;
      notifications[notification.mailbox].push_back(std::move(notification));
    } else {
      webforms.push_back(d);
    }
  }

  std::vector<Sender> senders;
  senders.reserve(webforms.size());
  for (const auto* d : webforms)
    senders.push_back(webform_sender(d->event));
  // Each email with the notification it is attributed to (outbox rows are
  // kept per source event; the last notification of the mailbox stands for all).
  std::vector<std::pair<const kafka::Delivery*, FetchedEmail>> emails;
  if (!notifications.empty()) {
    if (!email_) {
      throw kafka::PoisonError("an email notification arrived but Gmail API access is not configured "
                               "(FTE_GMAIL_CLIENT_ID/SECRET/REFRESH_TOKEN or FTE_GOOGLE_SERVICE_ACCOUNT_FILE)");
    }
    PgMailboxStore store(tx);
    for (const auto& [mailbox, list] : notifications) {
      for (auto& email : email_->fetch(store, mailbox, list)) {
        senders.push_back(email.sender);
        emails.emplace_back(last_notification.at(mailbox), std::move(email));
      }
    }
  }

  const auto customers = CustomerDirectory::resolve(tx, senders);
  for (std::size_t i = 0; i < webforms.size(); ++i) {
    const auto& event = webforms[i]->event;
    const auto& customer_id = customers.at({senders[i].kind, senders[i].address});
    // Built to proto/'s schema and checked against it in the unit tests; the
    // agent-worker validates what it receives.
    auto ticket = events::derive_event(event, "channel-normalizer", "ticket", std::string(kSource),
                                       std::string(kTicketMessageType),
                                       ticket_message_from_webform(event, customer_id, webforms[i]->record.topic));
    ticket.customerid = customer_id;
    ticket.subject = customer_id;
    outputs.add_event(event.id, topics_.tickets_incoming, customer_id, ticket);
  }
  for (auto& [notification, email] : emails) {
    const auto& customer_id = customers.at({email.sender.kind, email.sender.address});
    outputs.add_event(notification->event.id, topics_.tickets_incoming, customer_id,
                      ticket_event_from_email(notification->event, std::move(email), customer_id));
  }
}

} // namespace fte::normalizer
