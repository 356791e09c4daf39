// A minimal consumer process for the restart test: every record is applied
// through fte::pg::run_once (one row in test_effects per event id) and every
// attempt is logged in test_attempts outside that transaction, so the test
// can see both "processed again" and "applied once".
//
// usage: fte_test_dedup_consumer <topic> <group> <database-url> <dlq-topic>
// Kafka bootstrap and runner settings come from FTE_* variables.
#include <iostream>

#include <pqxx/pqxx>

#include "fte/common/config.hpp"
#include "fte/common/signals.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "fte/pg/dedup.hpp"
#include "fte/pg/pool.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: fte_test_dedup_consumer <topic> <group> <database-url> <dlq-topic>\n";
    return 2;
  }
  const std::string topic = argv[1], group = argv[2], url = argv[3], dlq = argv[4];
  std::unique_ptr<fte::kafka::ConsumerRunner> runner_ptr;
  fte::SignalWatcher signals([&](int) {
    if (runner_ptr) runner_ptr->stop();
  });
  const auto env = fte::Environment::from_process();
  auto logger = fte::Logger::to_stderr("dedup-consumer", spdlog::level::info);
  fte::kafka::Producer dlq_producer(fte::kafka::ProducerOptions::from_env(env, "dedup-consumer"), logger);
  auto options = fte::kafka::ConsumerOptions::from_env(env, "dedup-consumer", group, {topic});
  options.dlq_topic = dlq;
  fte::pg::ConnectionPool pool(url, static_cast<std::size_t>(options.lanes));

  auto handler = [&](const fte::kafka::Delivery& delivery) {
    auto connection = pool.acquire();
    {
      pqxx::nontransaction tx(*connection);
      tx.exec_params("INSERT INTO test_attempts (event_id) VALUES ($1)", delivery.event.id);
    }
    fte::pg::run_once(*connection, fte::GroupId(group), fte::EventId(delivery.event.id), [&](pqxx::work& tx) {
      tx.exec_params("INSERT INTO test_effects (event_id) VALUES ($1)", delivery.event.id);
    });
    return fte::kafka::HandleResult::done();
  };
  runner_ptr = std::make_unique<fte::kafka::ConsumerRunner>(options, handler, dlq_producer, logger);
  if (signals.received() != 0) return 0;
  runner_ptr->run();
  return 0;
}
