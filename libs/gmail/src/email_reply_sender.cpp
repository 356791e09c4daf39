#include "fte/gmail/email_reply_sender.hpp"

#include <algorithm>

namespace fte::gmail {
namespace {

using replies::SendOutcome;
using replies::SendResult;

std::string metadata_string(const nlohmann::json& metadata, const char* name) {
  if (!metadata.is_object()) return {};
  const auto it = metadata.find(name);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string lower_ascii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); });
  return text;
}

bool is_email_reply(const replies::OutgoingReply& reply) { return reply.channel == "email"; }

SendResult not_sent(std::string detail, std::chrono::seconds retry_after) {
  SendResult result;
  result.outcome = SendOutcome::not_sent;
  result.detail = std::move(detail);
  result.retry_after = retry_after;
  return result;
}

SendResult with_outcome(SendOutcome outcome, std::string detail) {
  SendResult result;
  result.outcome = outcome;
  result.detail = std::move(detail);
  return result;
}

SendResult sent(const MessageRef& message) {
  SendResult result;
  result.outcome = SendOutcome::sent;
  result.provider_message_id = message.id;
  result.provider_thread_id = message.thread_id;
  return result;
}

std::string describe(const SendFailure& failure) {
  std::string detail = failure.status != 0 ? "HTTP " + std::to_string(failure.status) : "no answer";
  if (!failure.reason.empty()) detail += " " + failure.reason;
  if (!failure.message.empty()) detail += ": " + failure.message;
  constexpr std::size_t kLimit = 500;
  if (detail.size() > kLimit) detail.resize(kLimit);
  return detail;
}

} // namespace

EmailReplyOptions EmailReplyOptions::from_env(const Environment& env) {
  EmailReplyOptions options;
  options.default_from = lower_ascii(env.get_or("FTE_REPLY_FROM_EMAIL", ""));
  options.message_id_domain = env.get_or("FTE_MESSAGE_ID_DOMAIN", options.message_id_domain);
  if (options.message_id_domain.empty() || options.message_id_domain.find_first_of("<>@ \t\r\n") != std::string::npos)
    throw ConfigError("FTE_MESSAGE_ID_DOMAIN", "must be a domain name, got '" + options.message_id_domain + "'");
  return options;
}

EmailReplySender::EmailReplySender(EmailReplyOptions options, GmailApiOptions api_options,
                                   std::shared_ptr<TokenSource> tokens)
    : options_(std::move(options)), api_(std::move(api_options), std::move(tokens)) {}

std::string EmailReplySender::sending_mailbox(const replies::OutgoingReply& reply) const {
  // An email is answered from the address the customer wrote to, so the
  // reply lands in the same Gmail thread; a form has no such address.
  if (is_email_reply(reply)) {
    auto mailbox = metadata_string(reply.inbound_metadata, "mailbox");
    if (!mailbox.empty()) return lower_ascii(std::move(mailbox));
  }
  return options_.default_from;
}

mail::OutgoingEmail EmailReplySender::compose(const replies::OutgoingReply& reply) const {
  mail::OutgoingEmail email;
  email.from = mail::Address{sending_mailbox(reply), ""};
  email.to = {mail::Address{reply.to, ""}};
  email.subject = reply.subject;
  email.body_text = reply.body;
  email.message_id = mail::deterministic_message_id(reply.reply_id, options_.message_id_domain);
  email.date = options_.now();
  if (is_email_reply(reply)) {
    const auto& metadata = reply.inbound_metadata;
    email.in_reply_to = metadata_string(metadata, "message_id_header");
    // References: the thread so far, then the message answered (RFC 5322 3.6.4).
    if (const auto it = metadata.find("references"); it != metadata.end() && it->is_array()) {
      for (const auto& reference : *it)
        if (reference.is_string()) email.references.push_back(reference.get<std::string>());
    }
    if (!email.in_reply_to.empty() &&
        std::find(email.references.begin(), email.references.end(), email.in_reply_to) == email.references.end())
      email.references.push_back(email.in_reply_to);
  }
  return email;
}

replies::SendResult EmailReplySender::send(const replies::OutgoingReply& reply) {
  const auto mailbox = sending_mailbox(reply);
  if (mailbox.empty()) {
    return with_outcome(SendOutcome::rejected,
                        "no mailbox to send from: the inbound message names none and FTE_REPLY_FROM_EMAIL is unset");
  }
  if (reply.to.empty()) return with_outcome(SendOutcome::rejected, "the reply has no recipient");
  std::string rfc822;
  try {
    rfc822 = mail::compose_email(compose(reply));
  } catch (const std::invalid_argument& e) {
    // A malformed address or message id stays malformed: never retried.
    return with_outcome(SendOutcome::rejected, std::string("cannot compose the reply: ") + e.what());
  }
  const auto thread_id = is_email_reply(reply) ? metadata_string(reply.inbound_metadata, "thread_id") : std::string();
  std::variant<MessageRef, SendFailure> result;
  {
    std::lock_guard lock(mutex_);
    result = api_.send_message(mailbox, rfc822, thread_id);
  }
  if (const auto* message = std::get_if<MessageRef>(&result)) return sent(*message);
  const auto& failure = std::get<SendFailure>(result);
  const auto detail = describe(failure);
  const auto retry_after = [&](std::chrono::seconds fallback) {
    return failure.retry_after.count() > 0 ? failure.retry_after : fallback;
  };
  if (!failure.request_sent) {
    // A refused grant will not heal by itself; a lost connection will.
    const bool credentials = failure.reason == "invalid_grant" || failure.reason == "invalid_client" ||
                             failure.reason == "unauthorized_client" || failure.reason == "signing_failed";
    return not_sent(detail, retry_after(credentials ? options_.credentials_retry : options_.not_sent_retry));
  }
  if (failure.transport) return with_outcome(SendOutcome::ambiguous, detail); // sent, then the exchange broke
  if (failure.status >= 200 && failure.status < 300) return with_outcome(SendOutcome::ambiguous, detail);
  if (failure.status == 401) return not_sent(detail, retry_after(options_.credentials_retry));
  if (failure.status == 429 || (failure.status == 403 && is_retryable_status(failure.status, failure.reason)))
    return not_sent(detail, retry_after(options_.not_sent_retry));
  if (failure.status >= 400 && failure.status < 500) return with_outcome(SendOutcome::rejected, detail);
  return with_outcome(SendOutcome::ambiguous, detail); // 5xx: Gmail may have stored it before failing
}

std::optional<replies::SendResult> EmailReplySender::reconcile(const replies::OutgoingReply& reply) {
  const auto mailbox = sending_mailbox(reply);
  if (mailbox.empty()) return std::nullopt;
  try {
    const auto message_id = mail::deterministic_message_id(reply.reply_id, options_.message_id_domain);
    std::optional<MessageRef> found;
    {
      std::lock_guard lock(mutex_);
      found = api_.find_sent_by_message_id(mailbox, message_id);
    }
    if (found) return sent(*found);
    return not_sent("no message with Message-ID " + message_id + " in " + mailbox + "'s Sent folder",
                    std::chrono::seconds(0));
  } catch (const ApiError&) {
    return std::nullopt; // the search failed: nothing is proven either way
  } catch (const std::invalid_argument&) {
    return std::nullopt; // no Message-ID can be made for this reply id: nothing to search for
  }
}

} // namespace fte::gmail
