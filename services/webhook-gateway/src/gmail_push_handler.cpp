#include "gmail_push_handler.hpp"

#include <boost/asio/use_awaitable.hpp>

#include "fte/common/ids.hpp"
#include "fte/events/cloud_event.hpp"
#include "publish.hpp"
#include "pubsub_push.hpp"
#include "request_helpers.hpp"
#include "text.hpp"

namespace fte::gateway {

namespace bhttp = boost::beast::http;

namespace {

http::Response acknowledged_and_dropped(std::string_view code, unsigned version) {
  return http::json_response(http::Status::ok, {{"acknowledged", true}, {"dropped", code}}, version);
}

} // namespace

GmailPushHandler::Options GmailPushHandler::Options::from_env(const Environment& env, std::string topic,
                                                              int retry_after_seconds) {
  Options options;
  options.topic = std::move(topic);
  options.retry_after_seconds = retry_after_seconds;
  options.policy.audience = env.get_or("FTE_GMAIL_PUSH_AUDIENCE", "");
  options.policy.email = env.get_or("FTE_GMAIL_PUSH_SERVICE_ACCOUNT", "");
  options.policy.clock_skew = std::chrono::seconds(env.get_int("FTE_OIDC_CLOCK_SKEW_SECONDS", 60, 0, 600));
  const auto mailboxes = env.get_or("FTE_GMAIL_MAILBOXES", "");
  std::string_view rest = mailboxes;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto entry = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry.find('@') == std::string_view::npos) {
      throw ConfigError("FTE_GMAIL_MAILBOXES", "'" + std::string(entry) + "' is not an email address");
    }
    options.mailboxes.insert(lower_ascii(entry));
  }
  return options;
}

oidc::JwksCacheOptions jwks_cache_options_from_env(const Environment& env) {
  oidc::JwksCacheOptions options;
  options.url = env.get_or("FTE_GOOGLE_JWKS_URL", options.url);
  options.client.user_agent = "fte-webhook-gateway";
  return options;
}

GmailPushHandler::GmailPushHandler(Options options, oidc::JwksCache* keys, kafka::Producer& producer,
                                   GatewayMetrics& metrics, prometheus::Registry& registry, Logger logger)
    : options_(std::move(options)), keys_(keys), producer_(producer), metrics_(metrics),
      dropped_(prometheus::BuildCounter()
                   .Name("fte_gateway_push_dropped_total")
                   .Help("Authenticated pushes acknowledged without publishing, because no retry could ever "
                         "succeed, by reason")
                   .Register(registry)),
      logger_(std::move(logger)) {
  // Every reason exported from the start, so a rate of zero is visible.
  for (const char* reason : {"invalid_json", "invalid_push", "unknown_mailbox"})
    dropped_.Add({{"reason", reason}});
  if (options_.configured() && keys_ == nullptr) {
    throw std::invalid_argument("GmailPushHandler: a configured channel needs the JWKS cache");
  }
}

boost::asio::awaitable<http::Response> GmailPushHandler::handle(http::Request request) const {
  const auto version = request.version();
  const auto received = std::chrono::system_clock::now();
  if (!options_.configured()) {
    co_return http::error_response(http::Status::service_unavailable, "channel_not_configured",
                                   "Gmail push is not configured (FTE_GMAIL_PUSH_AUDIENCE, "
                                   "FTE_GMAIL_PUSH_SERVICE_ACCOUNT)",
                                   std::nullopt, version);
  }

  const auto token = http::bearer_token(request);
  if (token.empty()) {
    logger_.info("gmail push refused: no bearer token");
    co_return http::unauthorized("missing_token", "an OIDC bearer token is required", version);
  }
  auto decoded = oidc::decode_jws(token);
  if (const auto* failure = std::get_if<oidc::TokenFailure>(&decoded)) {
    logger_.info("gmail push refused", {{"reason", oidc::to_string(failure->error)}, {"detail", failure->detail}});
    co_return http::unauthorized("invalid_token", "the bearer token is not valid", version);
  }
  const auto& jws = std::get<oidc::DecodedJws>(decoded);

  // Keys held answer at once; only a miss waits, and then for the cache's
  // fetch thread, not on this one.
  auto lookup = keys_->lookup_cached(jws.kid);
  if (!lookup) lookup = co_await keys_->async_lookup(jws.kid, boost::asio::use_awaitable);
  if (lookup->status == oidc::KeyStatus::unavailable) {
    logger_.warn("gmail push not checked: Google's signing keys are unavailable", {{"detail", lookup->detail}});
    auto response = http::error_response(http::Status::service_unavailable, "jwks_unavailable",
                                         "the token cannot be checked right now; retry later", std::nullopt, version);
    response.set(bhttp::field::retry_after, std::to_string(options_.retry_after_seconds));
    co_return response;
  }
  if (lookup->status == oidc::KeyStatus::unknown_kid) {
    logger_.info("gmail push refused", {{"reason", "unknown_kid"}, {"kid", jws.kid}});
    co_return http::unauthorized("invalid_token", "the bearer token is not valid", version);
  }

  const auto verified = oidc::verify_token(jws, *lookup->key, options_.policy, received);
  if (const auto* failure = std::get_if<oidc::TokenFailure>(&verified)) {
    logger_.info("gmail push refused", {{"reason", oidc::to_string(failure->error)}, {"detail", failure->detail}});
    if (oidc::is_forbidden(failure->error)) {
      co_return http::error_response(http::Status::forbidden, "forbidden_token",
                                     "the token was not issued for this endpoint", std::nullopt, version);
    }
    co_return http::unauthorized("invalid_token", "the bearer token is not valid", version);
  }

  auto parsed = parse_gmail_push(request.body());
  if (const auto* unusable = std::get_if<UnusablePush>(&parsed)) {
    dropped_.Add({{"reason", unusable->code}}).Increment();
    logger_.warn("gmail push acknowledged and dropped", {{"code", unusable->code}, {"reason", unusable->reason}});
    co_return acknowledged_and_dropped(unusable->code, version);
  }
  const auto& notification = std::get<GmailNotification>(parsed);
  if (!options_.mailboxes.empty() && !options_.mailboxes.contains(notification.email_address)) {
    // A watch on a mailbox we do not serve: answering an error would only
    // make Pub/Sub retry it for days.
    dropped_.Add({{"reason", "unknown_mailbox"}}).Increment();
    logger_.warn("gmail push acknowledged and dropped: mailbox not served",
                 {{"mailbox", notification.email_address}, {"pubsub_message_id", notification.message_id}});
    co_return acknowledged_and_dropped("invalid_push", version);
  }

  auto event =
      events::make_origin_event(event_id_from_provider("pubsub", notification.message_id), std::string(kSource),
                                std::string(kEventType), notification.to_event_data(received));
  event.subject = notification.email_address;
  continue_trace(request, event);
  const auto report = co_await publish_event(producer_, metrics_, logger_, options_.topic, notification.email_address,
                                             event, "gmail notification");
  if (!report.ok()) {
    // Even a fatal produce error (a missing topic) may be fixed while
    // Pub/Sub keeps the message: ask it to retry rather than answer 500.
    co_return kafka_unavailable_response(report, options_.retry_after_seconds, version);
  }
  if (logger_.enabled(spdlog::level::debug)) {
    logger_.debug("gmail notification accepted", {{"event_id", event.id},
                                                  {"mailbox", notification.email_address},
                                                  {"history_id", notification.history_id},
                                                  {"partition", report.partition},
                                                  {"offset", report.offset}});
  }
  http::Response response{http::Status::no_content, version};
  response.prepare_payload();
  co_return response;
}

} // namespace fte::gateway
