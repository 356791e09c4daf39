#pragma once

#include <set>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "fte/common/config.hpp"
#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/kafka/producer.hpp"
#include "fte/oidc/jwks_cache.hpp"
#include "fte/oidc/jwt.hpp"
#include "gateway_metrics.hpp"

namespace fte::gateway {

/// POST /webhooks/gmail: a Gmail change notification pushed by Pub/Sub.
///
/// The request must carry Google's OIDC token for our push subscription
/// (ADR 0012): RS256 only, signed by a key from Google's JWKS, our audience,
/// our push service account with a verified email, Google's issuer, within
/// its validity (with a bounded clock skew). A bad token answers 401/403 and
/// publishes nothing. A genuine push is published as one
/// fte.email.notification.received.v1 event keyed by the mailbox (lower
/// case), its id derived from the Pub/Sub messageId so a redelivery is the
/// same event, and answered 204 only after the broker acknowledged it.
/// An authenticated push that can never succeed (body not JSON, no usable
/// data, a mailbox we do not serve) is acknowledged with 200 and counted in
/// fte_gateway_push_dropped_total: Pub/Sub would retry any other answer
/// until its retention expires. What may succeed later (Kafka, Google's
/// keys) answers 503, and Pub/Sub retries.
class GmailPushHandler {
public:
  struct Options {
    std::string topic;
    int retry_after_seconds = 1;
    /// Audience and service account empty: the channel is not configured
    /// and every push answers 503 channel_not_configured.
    oidc::TokenPolicy policy;
    /// Mailboxes served, lower case; empty serves any.
    std::set<std::string, std::less<>> mailboxes;

    [[nodiscard]] bool configured() const noexcept {
      return !policy.audience.empty() && policy.email && !policy.email->empty();
    }

    /// FTE_GMAIL_PUSH_AUDIENCE, FTE_GMAIL_PUSH_SERVICE_ACCOUNT,
    /// FTE_OIDC_CLOCK_SKEW_SECONDS (default 60, at most 600) and
    /// FTE_GMAIL_MAILBOXES (comma list). @throws ConfigError
    static Options from_env(const Environment& env, std::string topic, int retry_after_seconds);
  };

  /// `keys` may be null only when the channel is not configured.
  GmailPushHandler(Options options, oidc::JwksCache* keys, kafka::Producer& producer, GatewayMetrics& metrics,
                   prometheus::Registry& registry, Logger logger);

  [[nodiscard]] boost::asio::awaitable<http::Response> handle(http::Request request) const;

  static constexpr std::string_view kEventType = "fte.email.notification.received.v1";
  static constexpr std::string_view kSource = "/fte/webhook-gateway";

private:
  Options options_;
  oidc::JwksCache* keys_;
  kafka::Producer& producer_;
  GatewayMetrics& metrics_;
  prometheus::Family<prometheus::Counter>& dropped_;
  Logger logger_;
};

/// FTE_GOOGLE_JWKS_URL (default Google's) into the cache's options.
[[nodiscard]] oidc::JwksCacheOptions jwks_cache_options_from_env(const Environment& env);

} // namespace fte::gateway
