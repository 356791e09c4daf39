#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/service.hpp"

namespace fte::runtime {

/// The pieces every consuming service has: a producer (outputs and the DLQ),
/// a PostgreSQL pool sized to the consumer's lanes, the proto/ validator, and
/// the consumer options from the environment (group FTE_CONSUMER_GROUP,
/// default `fte.<service>`).
struct ConsumerServiceParts {
  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<pg::ConnectionPool> database;
  std::unique_ptr<contracts::Validator> validator;
  kafka::ConsumerOptions consumer_options;

  /// @throws ConfigError
  static ConsumerServiceParts from_env(const Service& service, std::vector<std::string> topics);
};

/// Runs `runner` until SIGTERM: readiness = consumer assigned and a broker
/// reachable; SIGTERM stops polling, drains, commits and leaves the group;
/// then the producer flushes. Returns the process exit code.
int run_consumer(Service& service, kafka::ConsumerRunner& runner, kafka::Producer& producer);

} // namespace fte::runtime
