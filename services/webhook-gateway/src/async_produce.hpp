#pragma once

#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>

#include "fte/kafka/producer.hpp"

namespace fte::gateway {

/// Produces a record and completes `token` with its DeliveryReport on the
/// handler's own executor: `co_await async_produce(p, r, use_awaitable)`
/// suspends the request's coroutine, not a thread, until Kafka answers.
template <class CompletionToken>
auto async_produce(kafka::Producer& producer, kafka::ProducerRecord record, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(kafka::DeliveryReport)>(
      [&producer](auto handler, kafka::ProducerRecord r) {
        auto executor = boost::asio::get_associated_executor(handler);
        // Completion handlers are move-only; the delivery callback must be copyable.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        producer.send_async(std::move(r), [shared, executor](const kafka::DeliveryReport& report) {
          // Runs on librdkafka's delivery thread: hop back to the request's executor.
          boost::asio::post(executor, [shared, report]() mutable { std::move (*shared)(report); });
        });
      },
      token, std::move(record));
}

} // namespace fte::gateway
