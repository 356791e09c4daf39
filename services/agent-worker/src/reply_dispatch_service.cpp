#include "reply_dispatch_service.hpp"

#include "fte/gmail/email_reply_sender.hpp"
#include "fte/gmail/token_source.hpp"
#include "fte/kafka/topics.hpp"
#include "fte/runtime/consumer_service.hpp"
#include "fte/twilio/whatsapp_reply_sender.hpp"

namespace fte::agent {

void register_configured_senders(SenderRegistry& registry, const Environment& env, const Logger& logger) {
  if (auto twilio = twilio::MessagesApiOptions::from_env(env)) {
    if (twilio->status_callback_url.empty()) {
      logger.warn("FTE_PUBLIC_BASE_URL is unset: WhatsApp replies go out without a StatusCallback, so their "
                  "delivery status never comes back");
    }
    logger.info("WhatsApp replies go out through Twilio",
                {{"api_base_url", twilio->api_base_url}, {"status_callback", twilio->status_callback_url}});
    registry.add("whatsapp", "twilio",
                 [options = *twilio] { return std::make_unique<twilio::WhatsAppReplySender>(options); });
  }
  if (auto tokens = gmail::token_source_from_env(env)) {
    const auto reply_options = gmail::EmailReplyOptions::from_env(env);
    const auto api = gmail::GmailApiOptions::from_env(env);
    // Gmail's Sent search can miss a message for minutes after accepting
    // it; "not found" sooner would send it again.
    const auto delay = env.get_millis("FTE_REPLY_EMAIL_RECONCILE_DELAY_MS", std::chrono::minutes(5),
                                      std::chrono::milliseconds(0), std::chrono::hours(24));
    // One sender per worker (its own HTTP client), one token cache for all.
    const auto factory = [reply_options, api, tokens] {
      return std::make_unique<gmail::EmailReplySender>(reply_options, api, tokens);
    };
    registry.add("email", "gmail", factory, delay);
    if (reply_options.default_from.empty()) {
      logger.warn("FTE_REPLY_FROM_EMAIL is unset: replies to form submissions have no mailbox to go out from");
    } else {
      registry.add("webform", "gmail", factory, delay);
    }
    logger.info("email replies go out through Gmail", {{"api_base_url", api.base_url},
                                                       {"form_replies_from", reply_options.default_from},
                                                       {"reconcile_delay_ms", delay.count()}});
  }
  for (const auto channel : kReplyChannels) {
    if (!registry.serves(channel)) {
      logger.warn("no reply sender configured for this channel; its replies stay pending", {{"channel", channel}});
    }
  }
}

ReplyDispatchService::ReplyDispatchService(runtime::Service& service) {
  const auto& env = service.env();
  register_configured_senders(senders_, env, service.logger());
  const auto topics = kafka::TopicNames::from_env(env);
  auto options = DispatcherOptions::from_env(env, topics, env.get_or("FTE_CONSUMER_GROUP", "fte." + service.name()));
  producer_ = std::make_unique<kafka::Producer>(kafka::ProducerOptions::from_env(env, service.name() + "-replies"),
                                                service.logger());
  dispatcher_ = std::make_unique<ReplyDispatcher>(std::move(options),
                                                  env.get_or("FTE_DATABASE_URL", runtime::kDefaultDatabaseUrl),
                                                  senders_, *producer_, service.logger(), service.registry());
  dispatcher_->start();
}

ReplyDispatchService::~ReplyDispatchService() {
  dispatcher_.reset();
  producer_->flush(std::chrono::seconds(10));
}

std::function<void()> start_reply_dispatch(runtime::Service& service) {
  if (!service.env().get_bool("FTE_REPLY_DISPATCHER", true)) {
    service.logger().warn("FTE_REPLY_DISPATCHER is off: this replica sends no replies");
    return [] {};
  }
  auto dispatch = std::make_shared<ReplyDispatchService>(service);
  return [dispatch]() mutable { dispatch.reset(); };
}

} // namespace fte::agent
