#pragma once

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "email_fetcher.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/exactly_once.hpp"
#include "inbound_message.hpp"

namespace fte::normalizer {

/// What one channel event amounts to, in the order the events came.
using NormalizedItem = std::variant<InboundMessage, DeliveryUpdate>;

/// Turns channel events into events keyed by customer on
/// fte.tickets.incoming:
///
///   1. each channel turns its events into InboundMessages (and WhatsApp
///      status callbacks into DeliveryUpdates), see `normalize`; the email
///      channel's notifications are read per mailbox, through the mailbox's
///      history cursor in this transaction, by the EmailFetcher (ADR 0009);
///   2. the batch's senders are resolved set-wise (created when new), the
///      identifiers looked up without creating (delivery recipients,
///      claimed identifiers) in one more statement;
///   3. claims on another customer's identifier become merge candidates;
///   4. one output per message or update goes to the outbox in batch order,
///      published after COMMIT by runtime::ExactlyOnceHandler (a redelivery
///      or replay publishes nothing new).
class NormalizerHandler final : public runtime::DomainHandler {
public:
  /// `email` null: Gmail API access is not configured, and email
  /// notifications are dead-lettered (the mailbox's cursor stays, so the
  /// first notification once it is configured reads everything since).
  explicit NormalizerHandler(kafka::TopicNames topics, std::shared_ptr<const EmailFetcher> email = nullptr);

  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

  /// Step 1 for one event of a type read without the database, by its type:
  /// what it amounts to, appended to `items`.
  /// @throws kafka::PoisonError for a type no channel handles or an event
  /// that lacks what its schema guarantees.
  static void normalize(const kafka::Delivery& delivery, std::vector<NormalizedItem>& items);

private:
  /// Step 1 for the batch's email notifications: the mails they announce.
  void fetch_email(pqxx::work& tx, const std::vector<const kafka::Delivery*>& notifications,
                   std::vector<NormalizedItem>& items) const;

  kafka::TopicNames topics_;
  std::shared_ptr<const EmailFetcher> email_;
};

} // namespace fte::normalizer
