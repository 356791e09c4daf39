// escalation: records escalation requests and serves them to the people who
// take them.
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "escalation_api.hpp"
#include "escalation_handler.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/consumer_service.hpp"

int main() {
  return fte::runtime::Service::main("escalation", "0.0.0.0:9103", [](fte::runtime::Service& service) {
    const auto& env = service.env();
    const auto topics = fte::kafka::TopicNames::from_env(env);
    auto parts = fte::runtime::ConsumerServiceParts::from_env(service, {topics.escalations});
    const fte::escalation::EscalationHandler handler(parts.consumer_options.group_id, *parts.database);
    fte::kafka::ConsumerRunner runner(parts.consumer_options, std::cref(handler), *parts.producer, service.logger(),
                                      service.registry());
    runner.set_validator([&parts](const fte::events::CloudEvent& e) { return parts.validator->validate(e); });

    // The API reads through its own small pool so a busy consumer never
    // starves it (and the other way round).
    fte::pg::ConnectionPool api_database(env.get_or("FTE_DATABASE_URL", "postgresql://fte@127.0.0.1:15432/fte"), 2);
    const fte::escalation::EscalationApi api(api_database, service.logger());
    boost::asio::io_context io(2);
    fte::http::Server server(
        io.get_executor(),
        fte::http::ServerOptions::from_address(env.get_or("FTE_HTTP_ADDR", "0.0.0.0:8083"), "FTE_HTTP_ADDR"),
        [&api](fte::http::Request request) -> boost::asio::awaitable<fte::http::Response> {
          co_return api.handle(request);
        },
        service.logger());
    server.start();
    auto work = boost::asio::make_work_guard(io);
    std::vector<std::thread> pool;
    for (int i = 0; i < 2; ++i)
      pool.emplace_back([&io] { io.run(); });

    const int code = fte::runtime::run_consumer(service, runner, *parts.producer);
    server.stop();
    work.reset();
    io.stop();
    for (auto& t : pool)
      t.join();
    return code;
  });
}
