#pragma once

#include <string>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/pg/pool.hpp"

namespace fte::normalizer {

/// Turns channel events into unified ticket messages keyed by customer.
/// Exactly once per source event: the dedup key, the customer and the
/// acknowledged publish commit together; a redelivery or replay publishes
/// nothing new. The offset is committed by the runner only after this
/// returns, i.e. after the record was acknowledged and the transaction
/// committed.
class NormalizerHandler {
public:
  NormalizerHandler(std::string group, kafka::TopicNames topics, pg::ConnectionPool& database,
                    kafka::Producer& producer, const contracts::Validator& validator);

  kafka::HandleResult operator()(const kafka::Delivery& delivery) const;

private:
  std::string group_;
  kafka::TopicNames topics_;
  pg::ConnectionPool& database_;
  kafka::Producer& producer_;
  const contracts::Validator& validator_;
};

} // namespace fte::normalizer
