#include "reply_dispatch_service.hpp"

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
  // Email and form replies: fte::gmail::EmailReplySender (libs/gmail) is
  // registered here for "email" and "webform", provider "gmail", when the
  // Gmail variables are set — with a reconcile delay of its own, since
  // Gmail's Sent search can miss a message for minutes after accepting it.
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
