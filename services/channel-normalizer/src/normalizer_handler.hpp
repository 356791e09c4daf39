#pragma once

#include <memory>
#include <string>

#include "email_fetcher.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/exactly_once.hpp"

namespace fte::normalizer {

/// Turns channel events into unified ticket messages keyed by customer: the
/// batch's customers are resolved set-wise, and one ticket message per
/// customer message goes to the outbox, published after COMMIT by
/// runtime::ExactlyOnceHandler (a redelivery or replay publishes nothing new).
/// Email notifications are read through `email` (null: Gmail is not
/// configured, and they are dead-lettered).
class NormalizerHandler final : public runtime::DomainHandler {
public:
  explicit NormalizerHandler(kafka::TopicNames topics, std::shared_ptr<const EmailFetcher> email = nullptr);

  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

private:
  kafka::TopicNames topics_;
  std::shared_ptr<const EmailFetcher> email_;
};

} // namespace fte::normalizer
