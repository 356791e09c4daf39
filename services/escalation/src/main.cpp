// escalation: records escalation requests and serves them to the people who
// take them.
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "escalation_api.hpp"
#include "escalation_handler.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/runtime/consumer_service.hpp"
#include "fte/runtime/periodic_task.hpp"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace {

// The escalation API beside the consumer. It reads through its own small
// pool so a busy consumer never starves it (and the other way round). What
// people do on the desk is published on fte.desk.activity through the
// outbox by one relay task: woken after each action, and every 5 s for what
// a crash or a broker outage left.
class ApiServer {
public:
  explicit ApiServer(fte::runtime::Service& service)
      : address_(service.env().get_or("FTE_HTTP_ADDR", "0.0.0.0:8083")),
        database_(service.env().get_or("FTE_DATABASE_URL", fte::runtime::kDefaultDatabaseUrl), 3,
                  [](pqxx::connection& c) { fte::runtime::Outbox::prepare(c); }),
        producer_(fte::kafka::ProducerOptions::from_env(service.env(), service.name() + "-desk"), service.logger()),
        outbox_(std::string(fte::escalation::desk::kOutboxOwner), database_, producer_, service.logger()),
        desk_(database_, outbox_, fte::kafka::TopicNames::from_env(service.env()).desk_activity,
              fte::escalation::desk::DeskSettings::from_env(service.env())),
        relay_(std::chrono::seconds(5),
               [this, logger = service.logger()](bool) {
                 try {
                   if (const auto failure = desk_.relay(); !failure.empty()) {
                     logger.warn("desk activity not published yet; will try again", {{"error", failure}});
                   }
                 } catch (const std::exception& e) {
                   logger.warn("desk activity relay failed; will try again", {{"error", e.what()}});
                 }
               }),
        sign_in_(make_sign_in(service, address_, database_)),
        api_(database_, fte::escalation::EscalationApi::api_tokens(database_), sign_in_.get(), desk_, service.logger()),
        live_(service.env().get_or("FTE_DATABASE_URL", fte::runtime::kDefaultDatabaseUrl), database_,
              service.logger().with({{"component", "desk-live"}})),
        io_(2), server_(
                    io_.get_executor(), fte::http::ServerOptions::from_address(address_, "FTE_HTTP_ADDR"),
                    [this](fte::http::Request request) -> boost::asio::awaitable<fte::http::Response> {
                      co_return api_.handle(request);
                    },
                    service.logger()),
        work_(boost::asio::make_work_guard(io_)), sla_metrics_(start_sla_metrics(service, desk_)) {
    desk_.on_committed([this] { relay_.wake(); });
    server_.set_stream_route(api_.events_route(live_));
    server_.start();
    for (int i = 0; i < 2; ++i)
      threads_.emplace_back([this] { io_.run(); });
  }
  // The desk's SLA gauges, read from the database every 15 s (every replica
  // reports the same database-wide figures; dashboards and alerts take max).
  static std::unique_ptr<fte::runtime::PeriodicTask> start_sla_metrics(fte::runtime::Service& service,
                                                                       const fte::escalation::desk::DeskStore& desk) {
    auto& active = prometheus::BuildGauge()
                       .Name("fte_desk_conversations")
                       .Help("Active escalation-desk conversations by status (open, assigned, waiting)")
                       .Register(*service.registry());
    auto& breached = prometheus::BuildGauge()
                         .Name("fte_desk_conversations_breached")
                         .Help("Active desk conversations past their next SLA due time, by status")
                         .Register(*service.registry());
    for (const auto* status : {"open", "assigned", "waiting"}) {
      active.Add({{"status", status}});
      breached.Add({{"status", status}});
    }
    const auto update = [&active, &breached, &desk, logger = service.logger()](bool) {
      try {
        for (const auto& c : desk.counts()) {
          active.Add({{"status", c.status}}).Set(static_cast<double>(c.active));
          breached.Add({{"status", c.status}}).Set(static_cast<double>(c.breached));
        }
      } catch (const std::exception& e) {
        logger.warn("could not count desk conversations for the SLA metrics", {{"error", e.what()}});
      }
    };
    update(false);
    return std::make_unique<fte::runtime::PeriodicTask>(std::chrono::seconds(15), update);
  }

  ~ApiServer() {
    server_.stop();
    producer_.flush(std::chrono::seconds(5));
    work_.reset();
    io_.stop();
    for (auto& t : threads_)
      t.join();
  }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

private:
  static std::unique_ptr<fte::escalation::DeskSignIn>
  make_sign_in(fte::runtime::Service& service, const std::string& address, fte::pg::ConnectionPool& database) {
    auto settings = fte::escalation::SignInSettings::from_env(service.env(), address);
    if (!settings) {
      service.logger().info("people cannot sign in: FTE_OIDC_ISSUER is not set (API tokens only)");
      return nullptr;
    }
    service.logger().info(
        "desk sign-in configured",
        {{"issuer", settings->issuer}, {"client_id", settings->client_id}, {"redirect_uri", settings->redirect_uri()}});
    return std::make_unique<fte::escalation::DeskSignIn>(std::move(*settings), database,
                                                         service.logger().with({{"component", "sign-in"}}));
  }

  std::string address_;
  fte::pg::ConnectionPool database_;
  fte::kafka::Producer producer_;
  fte::runtime::Outbox outbox_;
  fte::escalation::desk::DeskStore desk_;
  fte::runtime::PeriodicTask relay_;
  std::unique_ptr<fte::escalation::DeskSignIn> sign_in_;
  fte::escalation::EscalationApi api_;
  fte::escalation::desk::DeskLive live_;
  boost::asio::io_context io_;
  fte::http::Server server_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<fte::runtime::PeriodicTask> sla_metrics_;
};

} // namespace

int main() {
  return fte::runtime::consumer_service_main({
      .name = "escalation",
      .admin_address = "0.0.0.0:9103",
      .input_topics = [](const fte::kafka::TopicNames& t) { return std::vector<std::string>{t.escalations}; },
      .accepted_types = {std::string(fte::escalation::EscalationHandler::kEscalationType)},
      .make_domain = [](fte::runtime::Service& service,
                        const fte::kafka::TopicNames& topics) -> std::unique_ptr<fte::runtime::DomainHandler> {
        return std::make_unique<fte::escalation::EscalationHandler>(
            fte::escalation::desk::DeskSettings::from_env(service.env()), topics.desk_activity);
      },
      .start_beside = [](fte::runtime::Service& service) -> std::function<void()> {
        auto api = std::make_shared<ApiServer>(service);
        return [api]() mutable { api.reset(); };
      },
  });
}
