#include "fte/runtime/consumer_service.hpp"

namespace fte::runtime {

ConsumerServiceParts ConsumerServiceParts::from_env(const Service& service, std::vector<std::string> topics) {
  const auto& env = service.env();
  ConsumerServiceParts parts;
  parts.consumer_options = kafka::ConsumerOptions::from_env(
      env, service.name(), env.get_or("FTE_CONSUMER_GROUP", "fte." + service.name()), std::move(topics));
  parts.producer =
      std::make_unique<kafka::Producer>(kafka::ProducerOptions::from_env(env, service.name()), service.logger());
  const auto pool_size = env.get_int("FTE_DB_POOL_SIZE", parts.consumer_options.lanes, 1, 1024);
  parts.database = std::make_unique<pg::ConnectionPool>(
      env.get_or("FTE_DATABASE_URL", "postgresql://fte@127.0.0.1:15432/fte"), static_cast<std::size_t>(pool_size));
  parts.validator = std::make_unique<contracts::Validator>();
  return parts;
}

int run_consumer(Service& service, kafka::ConsumerRunner& runner, kafka::Producer& producer) {
  service.admin().add_readiness_check("consumer_assigned", [&runner] { return runner.assigned(); });
  service.admin().add_readiness_check("kafka", [&producer] { return producer.broker_available(); });
  service.on_shutdown([&runner] { runner.stop(); });
  service.start();
  if (service.shutdown_requested()) {
    return 0;
  }
  runner.run(); // returns after SIGTERM, drained and committed
  if (!producer.flush(std::chrono::seconds(10))) {
    service.logger().warn("producer did not flush within 10 s");
    return 1;
  }
  return 0;
}

} // namespace fte::runtime
