// agent-worker: answers ticket messages from the knowledge base or escalates
// them; one transaction and exactly one effect per message.
#include "agent_handler.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/consumer_service.hpp"

int main() {
  return fte::runtime::Service::main("agent-worker", "0.0.0.0:9102", [](fte::runtime::Service& service) {
    const auto topics = fte::kafka::TopicNames::from_env(service.env());
    auto parts = fte::runtime::ConsumerServiceParts::from_env(service, {topics.tickets_incoming});
    fte::agent::AgentOptions options;
    options.group = parts.consumer_options.group_id;
    options.topics = topics;
    options.min_score = service.env().get_double("FTE_KB_MIN_SCORE", options.min_score, 0.0, 1.0);
    const fte::agent::AgentHandler handler(options, *parts.database, *parts.producer, *parts.validator);
    fte::kafka::ConsumerRunner runner(parts.consumer_options, std::cref(handler), *parts.producer, service.logger(),
                                      service.registry());
    runner.set_validator([&parts](const fte::events::CloudEvent& e) { return parts.validator->validate(e); });
    return fte::runtime::run_consumer(service, runner, *parts.producer);
  });
}
