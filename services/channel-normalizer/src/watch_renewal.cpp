#include "watch_renewal.hpp"

#include <memory>

#include <pqxx/pqxx>

#include "fte/gmail/mailbox_watch.hpp"
#include "fte/runtime/periodic_task.hpp"

namespace fte::normalizer {
namespace {

constexpr std::chrono::hours kRenewWithin{24};
constexpr std::chrono::hours kInterval{1};

class WatchRenewal {
public:
  WatchRenewal(gmail::GmailApiOptions options, std::shared_ptr<gmail::TokenSource> tokens, std::string database_url,
               std::string topic, Logger logger)
      : api_(std::move(options), std::move(tokens)), database_url_(std::move(database_url)), topic_(std::move(topic)),
        logger_(std::move(logger)) {}

  // One pass; never throws (a PeriodicTask's work must not), the next pass retries.
  void pass() {
    try {
      pqxx::connection database(database_url_);
      const auto report = gmail::renew_expiring_watches(api_, database, topic_, kRenewWithin, logger_);
      if (report.renewed + report.failed > 0)
        logger_.info("Gmail watch renewal pass", {{"renewed", report.renewed}, {"failed", report.failed}});
    } catch (const std::exception& e) {
      logger_.error("Gmail watch renewal pass failed; retried in an hour", {{"error", e.what()}});
    }
  }

  void start() {
    task_ = std::make_unique<runtime::PeriodicTask>(kInterval, [this](bool stopping) {
      if (!stopping) pass();
    });
  }

private:
  gmail::GmailApi api_; // used by one thread at a time: the start pass, then the task's
  std::string database_url_;
  std::string topic_;
  Logger logger_;
  std::unique_ptr<runtime::PeriodicTask> task_; // last: stopped and joined first
};

} // namespace

std::function<void()> start_watch_renewal(runtime::Service& service, const std::string& database_url) {
  const auto& env = service.env();
  auto tokens = gmail::token_source_from_env(env);
  if (!tokens) {
    service.logger().warn("Gmail API access is not configured: no email fetch, no watch renewal");
    return {};
  }
  auto renewal = std::make_shared<WatchRenewal>(gmail::GmailApiOptions::from_env(env), std::move(tokens), database_url,
                                                env.get_or("FTE_GMAIL_PUBSUB_TOPIC", ""),
                                                service.logger().with({{"component", "gmail-watch-renewal"}}));
  // The first pass now: a process restarted more often than hourly would
  // otherwise never renew.
  renewal->pass();
  renewal->start();
  return [renewal]() mutable { renewal.reset(); };
}

} // namespace fte::normalizer
