// webhook-gateway: the public HTTP edge. Stateless; every accepted message is
// in Kafka before the sender hears 2xx.
#include <thread>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/oidc/jwks_cache.hpp"
#include "fte/runtime/service.hpp"
#include "gateway_metrics.hpp"
#include "gmail_push_handler.hpp"
#include "request_origin.hpp"
#include "router.hpp"
#include "twilio_handler.hpp"
#include "webform_handler.hpp"

namespace {

// Says at start whether the WhatsApp routes answer and from where their URLs
// come, so a 503 channel_not_configured or a 403 behind a proxy is explained
// in the log.
void log_twilio_configuration(const fte::Logger& logger, const fte::Environment& env,
                              const fte::gateway::TwilioHandler& twilio) {
  if (!twilio.configured()) {
    logger.warn("POST /webhooks/twilio/* answer 503 channel_not_configured: set FTE_TWILIO_AUTH_TOKEN");
    return;
  }
  const auto base = env.get_or("FTE_PUBLIC_BASE_URL", "");
  logger.info("twilio whatsapp configured",
              {{"public_base_url", base.empty() ? "(unset: Host or trusted X-Forwarded-* headers)" : base},
               {"trusted_proxies", env.get_or("FTE_TRUSTED_PROXIES", "")},
               {"previous_token", !env.get_or("FTE_TWILIO_AUTH_TOKEN_PREVIOUS", "").empty()}});
}

} // namespace

int main() {
  return fte::runtime::Service::main("webhook-gateway", "0.0.0.0:9100", [](fte::runtime::Service& service) {
    using std::chrono::milliseconds;
    const auto& env = service.env();
    auto http_options =
        fte::http::ServerOptions::from_address(env.get_or("FTE_HTTP_ADDR", "0.0.0.0:8080"), "FTE_HTTP_ADDR");
    http_options.body_limit =
        static_cast<std::size_t>(env.get_int("FTE_HTTP_BODY_LIMIT", 64 * 1024, 1024, 16 * 1024 * 1024));
    http_options.read_timeout =
        env.get_millis("FTE_HTTP_READ_TIMEOUT_MS", milliseconds(10'000), milliseconds(100), milliseconds(600'000));
    http_options.max_requests_per_connection =
        static_cast<std::size_t>(env.get_int("FTE_HTTP_MAX_REQUESTS_PER_CONNECTION", 1000, 1, 1'000'000));
    // One I/O thread per two cores: on two cores shared with the broker one
    // thread served more requests per CPU-second than two (docs/benchmarks.md).
    const auto threads = static_cast<int>(
        env.get_int("FTE_HTTP_THREADS", std::max(1U, std::thread::hardware_concurrency() / 2), 1, 256));
    const auto shutdown_timeout =
        env.get_millis("FTE_SHUTDOWN_TIMEOUT_MS", milliseconds(25'000), milliseconds(100), milliseconds(600'000));
    const auto topics = fte::kafka::TopicNames::from_env(env);

    // Start order: producer, then handlers, then listeners; the stop order is
    // the reverse, so no request is accepted that cannot be produced, and the
    // producer flushes only after the last request is answered.
    auto producer_options = fte::kafka::ProducerOptions::from_env(env, service.name());
    producer_options.external_poll = true; // delivery reports run on the I/O threads, below
    fte::kafka::Producer producer(producer_options, service.logger());
    fte::gateway::GatewayMetrics metrics(*service.registry());
    const auto retry_after = static_cast<int>(env.get_int("FTE_RETRY_AFTER_SECONDS", 1, 1, 3600));
    const fte::gateway::WebformHandler webform({topics.webform_inbound, retry_after}, producer, metrics,
                                               service.logger());
    // Gmail push: Google's signing keys are fetched on the cache's own
    // thread; the cache outlives the handler and the listener that use it.
    auto gmail_options = fte::gateway::GmailPushHandler::Options::from_env(env, topics.email_inbound, retry_after);
    std::unique_ptr<fte::oidc::JwksCache> google_keys;
    if (gmail_options.configured()) {
      const auto jwks_options = fte::gateway::jwks_cache_options_from_env(env);
      service.logger().info("gmail push configured", {{"audience", gmail_options.policy.audience},
                                                      {"service_account", gmail_options.policy.email.value_or("")},
                                                      {"jwks_url", jwks_options.url},
                                                      {"mailboxes", gmail_options.mailboxes}});
      google_keys =
          std::make_unique<fte::oidc::JwksCache>(jwks_options, service.logger().with({{"component", "jwks"}}));
      google_keys->prefetch();
    } else {
      service.logger().warn("POST /webhooks/gmail answers 503 channel_not_configured: set FTE_GMAIL_PUSH_AUDIENCE "
                            "and FTE_GMAIL_PUSH_SERVICE_ACCOUNT");
    }
    const fte::gateway::GmailPushHandler gmail(std::move(gmail_options), google_keys.get(), producer, metrics,
                                               *service.registry(), service.logger());
    // The previous token alone does not configure the channel: it is only
    // accepted beside a current one, during a rotation.
    std::vector<std::string> twilio_tokens;
    if (auto current = env.get_or("FTE_TWILIO_AUTH_TOKEN", ""); !current.empty()) {
      twilio_tokens = {std::move(current), env.get_or("FTE_TWILIO_AUTH_TOKEN_PREVIOUS", "")};
    }
    const fte::gateway::TwilioHandler twilio(
        {topics.whatsapp_inbound, retry_after, std::move(twilio_tokens), fte::gateway::OriginPolicy::from_env(env)},
        producer, metrics, service.logger());
    log_twilio_configuration(service.logger(), env, twilio);
    fte::gateway::Router router(webform, gmail, twilio, metrics);

    boost::asio::io_context io(threads);
    fte::http::Server server(
        io.get_executor(), http_options,
        fte::http::PeerHandler([&router](fte::http::Request request, boost::asio::ip::tcp::endpoint peer) {
          return router.route(std::move(request), peer);
        }),
        service.logger());

    service.admin().add_readiness_check("kafka", [&producer] { return producer.broker_available(); });
    service.on_shutdown([&server] { server.stop(); });
    service.start();
    server.start();

    // Delivery reports are served on the event loop whose requests wait for
    // them: no poller thread to wake, no cross-thread hop per report.
    boost::asio::posix::stream_descriptor deliveries(io, ::dup(producer.delivery_fd()));
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          for (;;) {
            producer.poll();
            const auto [ec] = co_await deliveries.async_wait(boost::asio::posix::descriptor_base::wait_read,
                                                             boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return; // closed at shutdown
          }
        },
        boost::asio::detached);

    auto work = boost::asio::make_work_guard(io);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i)
      pool.emplace_back([&io] { io.run(); });
    service.logger().info("webhook-gateway ready", {{"port", server.port()},
                                                    {"threads", threads},
                                                    {"topic", topics.webform_inbound},
                                                    {"whatsapp_topic", topics.whatsapp_inbound}});

    service.wait_for_shutdown();
    // Listener closed by the shutdown action; let requests in flight finish.
    const auto deadline = std::chrono::steady_clock::now() + shutdown_timeout;
    while (router.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    const bool flushed = producer.flush(milliseconds(5'000));
    boost::asio::post(io, [&deliveries] { deliveries.close(); });
    work.reset();
    io.stop();
    for (auto& t : pool)
      t.join();
    // A key fetch still running completes into the io_context: join it while
    // that context still exists.
    google_keys.reset();
    service.logger().info("webhook-gateway drained", {{"in_flight_left", router.in_flight()}, {"flushed", flushed}});
    return router.in_flight() == 0 ? 0 : 1;
  });
}
