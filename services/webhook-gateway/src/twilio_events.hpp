#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "client_error.hpp"
#include "fte/common/ids.hpp"
#include "fte/events/cloud_event.hpp"
#include "twilio_form.hpp"

namespace fte::gateway {

/// The CloudEvents `source` of every event the gateway publishes.
inline constexpr std::string_view kGatewaySource = "/fte/webhook-gateway";
inline constexpr std::string_view kWhatsappMessageEventType = "fte.whatsapp.message.received.v1";
inline constexpr std::string_view kWhatsappStatusEventType = "fte.whatsapp.status.received.v1";

/// What the gateway saw of the request beside its parameters.
struct TwilioRequestInfo {
  std::chrono::system_clock::time_point received_at;
  std::string client_address; ///< after trusted-proxy handling; may be empty
  std::string user_agent;     ///< may be empty
};

/// An event ready to publish, with its record key (also its subject). Its id
/// is derived from Twilio's ids, so Twilio's retry of the same request is
/// the same event.
struct TwilioEvent {
  std::string key;
  events::CloudEvent event;
};

/// fte.whatsapp.message.received.v1 from an inbound message webhook whose
/// signature has been checked: key = the sender's E.164 number, id from
/// MessageSid. Errors: 400 missing_field (MessageSid, AccountSid, From, To,
/// MediaUrl{N}), invalid_phone_number (From not a WhatsApp number),
/// invalid_form (NumMedia or NumSegments not a count). Throws only
/// std::bad_alloc.
[[nodiscard]] std::variant<TwilioEvent, ClientError> whatsapp_message_event(const TwilioParams& params,
                                                                            const TwilioRequestInfo& info);

/// fte.whatsapp.status.received.v1 from a status callback whose signature
/// has been checked: key = the customer's E.164 number (the callback's To:
/// the customer receives our reply), id from MessageSid, MessageStatus and
/// ErrorCode, so each state is one event however often Twilio repeats it.
/// `From` may be absent (a Messaging Service send before Twilio chose the
/// number). Errors: 400 missing_field (MessageSid, MessageStatus,
/// AccountSid, To), invalid_phone_number (To), invalid_form (MessageStatus not one
/// Twilio documents). Throws only std::bad_alloc.
[[nodiscard]] std::variant<TwilioEvent, ClientError> whatsapp_status_event(const TwilioParams& params,
                                                                           const TwilioRequestInfo& info);

} // namespace fte::gateway
