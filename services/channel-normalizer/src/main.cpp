// channel-normalizer: channel events in, one unified ticket message per
// customer message out, keyed by customer id.
#include "fte/kafka/topics.hpp"
#include "fte/runtime/consumer_service.hpp"
#include "normalizer_handler.hpp"

int main() {
  return fte::runtime::Service::main("channel-normalizer", "0.0.0.0:9101", [](fte::runtime::Service& service) {
    const auto topics = fte::kafka::TopicNames::from_env(service.env());
    auto parts = fte::runtime::ConsumerServiceParts::from_env(service, {topics.webform_inbound});
    const fte::normalizer::NormalizerHandler handler(parts.consumer_options.group_id, topics, *parts.database,
                                                     *parts.producer, *parts.validator);
    fte::kafka::ConsumerRunner runner(parts.consumer_options, std::cref(handler), *parts.producer, service.logger(),
                                      service.registry());
    runner.set_validator([&parts](const fte::events::CloudEvent& e) { return parts.validator->validate(e); });
    return fte::runtime::run_consumer(service, runner, *parts.producer);
  });
}
