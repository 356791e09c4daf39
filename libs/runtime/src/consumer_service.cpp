#include "fte/runtime/consumer_service.hpp"

#include <thread>

#include "fte/pg/retention.hpp"
#include "fte/runtime/periodic_task.hpp"

namespace fte::runtime {
namespace {

// Deletes old dedup ids, one short transaction per few thousand rows. Every
// replica runs it; their deletes of the same rows simply find fewer to do.
void prune_once(const std::string& url, const std::string& group, std::chrono::milliseconds window,
                const Logger& logger) {
  try {
    pqxx::connection connection(url);
    const auto report = pg::prune_dedup_state(connection, group, window);
    if (report.processed_messages > 0 || report.outbox > 0) {
      logger.info("pruned dedup state", {{"group", group},
                                         {"processed_messages", report.processed_messages},
                                         {"outbox", report.outbox},
                                         {"window_hours", window.count() / 3'600'000.0}});
    }
  } catch (const std::exception& e) {
    logger.warn("pruning dedup state failed; will try again", {{"error", e.what()}});
  }
}

} // namespace

std::chrono::milliseconds dedup_retention_from_env(const Environment& env) {
  using std::chrono::milliseconds;
  constexpr milliseconds kDay{86'400'000};
  const auto topic_retention =
      env.get_millis("FTE_TOPIC_RETENTION_MS", milliseconds(7 * kDay), milliseconds(60'000), milliseconds(3650 * kDay));
  return env.get_millis("FTE_DEDUP_RETENTION_MS", topic_retention + kDay, milliseconds(60'000),
                        milliseconds(3650 * kDay));
}

int consumer_service_main(const ConsumerServiceSpec& spec) {
  return Service::main(spec.name, spec.admin_address, [&spec](Service& service) {
    using std::chrono::milliseconds;
    const auto& env = service.env();
    const auto topics = kafka::TopicNames::from_env(env);
    auto options = kafka::ConsumerOptions::from_env(
        env, service.name(), env.get_or("FTE_CONSUMER_GROUP", "fte." + service.name()), spec.input_topics(topics));
    options.accepted_types = spec.accepted_types;
    const auto url = env.get_or("FTE_DATABASE_URL", kDefaultDatabaseUrl);
    // A lane holds a connection only for its transaction (not while the
    // broker acknowledges), so a little over one per core keeps the
    // database busy without idle sessions: cores + 1, never above the lanes.
    const auto cores = static_cast<std::int64_t>(std::max(1U, std::thread::hardware_concurrency()));
    const auto pool_size = env.get_int("FTE_DB_POOL_SIZE", std::min<std::int64_t>(options.lanes, cores + 1), 1, 1024);
    const auto retention = dedup_retention_from_env(env);
    const auto prune_interval = env.get_millis("FTE_DEDUP_PRUNE_INTERVAL_MS", milliseconds(600'000),
                                               milliseconds(1'000), milliseconds(86'400'000));

    kafka::Producer producer(kafka::ProducerOptions::from_env(env, service.name()), service.logger());
    const contracts::Validator validator;
    const auto domain = spec.make_domain(service, topics);
    pg::ConnectionPool database(url, static_cast<std::size_t>(pool_size), [&domain](pqxx::connection& c) {
      ExactlyOnceHandler::prepare(c);
      domain->prepare(c);
    });
    const ExactlyOnceHandler handler(options.group_id, database, producer, *domain, service.logger(),
                                     service.registry());
    kafka::ConsumerRunner runner(options, kafka::BatchHandler(std::cref(handler)), producer, service.logger(),
                                 service.registry());
    runner.set_validator(
        [&validator](const nlohmann::json& envelope) { return validator.validate_received(envelope); });
    service.logger().info("consumer service configured", {{"group", options.group_id},
                                                          {"lanes", options.lanes},
                                                          {"db_pool", pool_size},
                                                          {"dedup_retention_hours", retention.count() / 3'600'000.0}});

    service.admin().add_readiness_check("consumer_assigned", [&runner] { return runner.assigned(); });
    service.admin().add_readiness_check("kafka", [&producer] { return producer.broker_available(); });
    service.on_shutdown([&runner] { runner.stop(); });
    service.start();
    std::function<void()> stop_beside;
    if (spec.start_beside) {
      stop_beside = spec.start_beside(service);
    }
    // The first pass waits one interval (start-up is busy enough); none at stop.
    const PeriodicTask pruner(prune_interval, [&](bool stopping) {
      if (!stopping) prune_once(url, options.group_id, retention, service.logger());
    });
    if (!service.shutdown_requested()) {
      runner.run(); // returns after SIGTERM, drained and committed
    }
    if (stop_beside) stop_beside();
    if (!producer.flush(std::chrono::seconds(10))) {
      service.logger().warn("producer did not flush within 10 s");
      return 1;
    }
    return 0;
  });
}

} // namespace fte::runtime
