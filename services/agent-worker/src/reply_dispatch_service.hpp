#pragma once

#include <functional>
#include <memory>

#include "fte/kafka/producer.hpp"
#include "fte/runtime/service.hpp"
#include "reply_dispatcher.hpp"
#include "sender_registry.hpp"

namespace fte::agent {

/// Registers the reply senders this process is configured for: WhatsApp
/// through Twilio's Messages API when FTE_TWILIO_ACCOUNT_SID and
/// FTE_TWILIO_AUTH_TOKEN are set; email through Gmail
/// (fte::gmail::EmailReplySender) when Gmail API access is configured
/// (FTE_GMAIL_CLIENT_ID/SECRET/REFRESH_TOKEN or
/// FTE_GOOGLE_SERVICE_ACCOUNT_FILE), and form replies too when
/// FTE_REPLY_FROM_EMAIL names the mailbox they go out from. Logs which
/// channels have no sender. @throws ConfigError
void register_configured_senders(SenderRegistry& registry, const Environment& env, const Logger& logger);

/// The reply dispatcher with what it owns: the senders, a producer of its
/// own for its escalations (it publishes rarely; sharing the consumer's
/// would tie its shutdown to the consumer's drain), and the dispatcher.
class ReplyDispatchService {
public:
  /// @throws ConfigError
  explicit ReplyDispatchService(runtime::Service& service);
  /// Stops the dispatcher (the provider call in flight is finished and
  /// recorded), then flushes the producer.
  ~ReplyDispatchService();
  ReplyDispatchService(const ReplyDispatchService&) = delete;
  ReplyDispatchService& operator=(const ReplyDispatchService&) = delete;

private:
  SenderRegistry senders_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<ReplyDispatcher> dispatcher_; // last: stops before what it uses
};

/// ConsumerServiceSpec::start_beside for the agent-worker: starts the
/// dispatcher unless FTE_REPLY_DISPATCHER is false, and returns what stops it.
std::function<void()> start_reply_dispatch(runtime::Service& service);

} // namespace fte::agent
