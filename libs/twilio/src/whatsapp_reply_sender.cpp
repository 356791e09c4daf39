#include "fte/twilio/whatsapp_reply_sender.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "fte/common/text.hpp"

namespace fte::twilio {
namespace {

constexpr std::string_view kWhatsAppPrefix = "whatsapp:";
constexpr std::size_t kDetailLimit = 500;
// "Too Many Requests" (twilio.com/docs/errors/20429): never processed.
constexpr int kTooManyRequests = 20429;

std::string with_whatsapp_prefix(const std::string& address) {
  return address.rfind(kWhatsAppPrefix, 0) == 0 ? address : std::string(kWhatsAppPrefix) + address;
}

std::string string_member(const nlohmann::json& object, const char* name) {
  if (!object.is_object()) return {};
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Twilio's error body: {"code": 21211, "message": "...", "more_info": "...", "status": 400}.
struct TwilioError {
  int code = 0;
  std::string message;
};
TwilioError error_of(const std::string& body) {
  TwilioError error;
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    error.message = excerpt(body, kDetailLimit);
    return error;
  }
  if (const auto it = json.find("code"); it != json.end() && it->is_number_integer()) error.code = it->get<int>();
  error.message = excerpt(string_member(json, "message"), kDetailLimit);
  return error;
}

std::string describe(long status, const TwilioError& error) {
  std::string text = "Twilio";
  if (error.code != 0) text += " error " + std::to_string(error.code);
  if (!error.message.empty()) text += ": " + error.message;
  return text + " (HTTP " + std::to_string(status) + ")";
}

} // namespace

std::optional<MessagesApiOptions> MessagesApiOptions::from_env(const Environment& env) {
  MessagesApiOptions options;
  options.account_sid = env.get_or("FTE_TWILIO_ACCOUNT_SID", "");
  options.auth_token = env.get_or("FTE_TWILIO_AUTH_TOKEN", "");
  if (options.account_sid.empty() || options.auth_token.empty()) return std::nullopt;
  options.api_base_url = env.get_or("FTE_TWILIO_API_BASE_URL", options.api_base_url);
  if (options.api_base_url.rfind("https://", 0) != 0 && options.api_base_url.rfind("http://", 0) != 0) {
    throw ConfigError("FTE_TWILIO_API_BASE_URL", "must be an http:// or https:// URL");
  }
  auto base = env.get_or("FTE_PUBLIC_BASE_URL", "");
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  if (!base.empty()) options.status_callback_url = base + "/webhooks/twilio/status";
  options.timeout = env.get_millis("FTE_REPLY_SEND_TIMEOUT_MS", options.timeout, std::chrono::milliseconds(100),
                                   std::chrono::milliseconds(300'000));
  options.connect_timeout = std::min(options.connect_timeout, options.timeout);
  return options;
}

WhatsAppReplySender::WhatsAppReplySender(MessagesApiOptions options, outbound_http::ClientOptions client)
    : options_(std::move(options)), client_(std::move(client)) {
  auto base = options_.api_base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  url_ = base + "/2010-04-01/Accounts/" + outbound_http::url_encode(options_.account_sid) + "/Messages.json";
  authorization_ = outbound_http::basic_auth(options_.account_sid, options_.auth_token);
}

std::variant<std::vector<std::pair<std::string, std::string>>, std::string>
WhatsAppReplySender::form_fields(const MessagesApiOptions& options, const replies::OutgoingReply& reply) {
  if (reply.to.empty()) return std::string("the reply has no recipient");
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("To", with_whatsapp_prefix(reply.to));
  // Answer from where the customer wrote to: the Messaging Service when the
  // message came through one (Twilio picks the sender from its pool), else
  // our number exactly as Twilio gave it in the inbound `To`.
  if (const auto service = string_member(reply.inbound_metadata, "messaging_service_sid"); !service.empty()) {
    fields.emplace_back("MessagingServiceSid", service);
  } else if (const auto ours = string_member(reply.inbound_metadata, "to"); !ours.empty()) {
    fields.emplace_back("From", with_whatsapp_prefix(ours));
  } else {
    return std::string("the inbound message's channel_metadata names neither our number (to) nor a "
                       "messaging_service_sid");
  }
  // An approved template (a person's reply outside the 24-hour window):
  // Twilio's Content API sends the template with its variables, no Body.
  if (const auto sid = string_member(reply.whatsapp_template, "content_sid"); !sid.empty()) {
    fields.emplace_back("ContentSid", sid);
    const auto variables = reply.whatsapp_template.find("variables");
    if (variables != reply.whatsapp_template.end() && variables->is_object() && !variables->empty()) {
      fields.emplace_back("ContentVariables", variables->dump());
    }
  } else {
    fields.emplace_back("Body", reply.body);
  }
  if (!options.status_callback_url.empty()) fields.emplace_back("StatusCallback", options.status_callback_url);
  return fields;
}

replies::SendResult
WhatsAppReplySender::classify(const std::variant<outbound_http::Response, outbound_http::Failure>& answer) {
  using replies::SendOutcome;
  replies::SendResult result;
  if (const auto* failure = std::get_if<outbound_http::Failure>(&answer)) {
    // Refused or never connected: nothing reached Twilio. Anything else is
    // only safe to retry if not a byte of the request was written.
    const bool surely_not_sent = failure->kind == outbound_http::FailureKind::connect_failed || !failure->request_sent;
    result.outcome = surely_not_sent ? SendOutcome::not_sent : SendOutcome::ambiguous;
    result.detail = excerpt(failure->message, kDetailLimit);
    return result;
  }
  const auto& response = std::get<outbound_http::Response>(answer);
  const long status = response.status;
  if (status == 200 || status == 201) {
    const auto json = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    result.provider_message_id = string_member(json, "sid");
    result.provider_status = string_member(json, "status");
    if (result.provider_message_id.empty()) {
      // Accepted, but we cannot tell which message it is: no callback will
      // ever match it, and sending again could duplicate it.
      result.outcome = SendOutcome::ambiguous;
      result.detail =
          "HTTP " + std::to_string(status) + " without a message sid: " + excerpt(response.body, kDetailLimit);
      return result;
    }
    result.outcome = SendOutcome::sent;
    result.detail = "HTTP " + std::to_string(status);
    return result;
  }
  if (status >= 400 && status < 500) {
    const auto error = error_of(response.body);
    result.detail = describe(status, error);
    if (status == 429 || error.code == kTooManyRequests || status == 401) {
      result.outcome = SendOutcome::not_sent;
      result.retry_after = outbound_http::retry_after(response);
    } else {
      result.outcome = SendOutcome::rejected;
    }
    return result;
  }
  // 5xx: Twilio may have queued the message before failing to answer; 1xx,
  // 3xx and other 2xx are not what this API answers, so nothing is assumed.
  result.outcome = SendOutcome::ambiguous;
  result.detail = describe(status, error_of(response.body));
  return result;
}

replies::SendResult WhatsAppReplySender::send(const replies::OutgoingReply& reply) {
  auto fields = form_fields(options_, reply);
  if (auto* problem = std::get_if<std::string>(&fields)) {
    replies::SendResult result;
    result.outcome = replies::SendOutcome::rejected;
    result.detail = std::move(*problem);
    return result;
  }
  outbound_http::Request request;
  request.method = "POST";
  request.url = url_;
  request.headers = {{"Authorization", authorization_},
                     {"Content-Type", "application/x-www-form-urlencoded"},
                     {"Accept", "application/json"}};
  request.body = outbound_http::form_encode(std::get<0>(fields));
  request.timeout = options_.timeout;
  request.connect_timeout = options_.connect_timeout;
  // Never on a kept-alive connection: libcurl re-sends a request whose
  // reused connection dies unanswered, which here would be a second message.
  request.fresh_connection = true;
  return classify(client_.perform(request));
}

std::optional<replies::SendResult> WhatsAppReplySender::reconcile(const replies::OutgoingReply& /*reply*/) {
  // The Messages API lists messages by To/From/date, not by anything of
  // ours; matching on those could mistake another message for this one.
  return std::nullopt;
}

} // namespace fte::twilio
