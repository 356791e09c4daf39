#pragma once

#include <string>
#include <string_view>

#include "fte/events/cloud_event.hpp"
#include "inbound_message.hpp"

namespace fte::normalizer {

inline constexpr std::string_view kWhatsappMessageType = "fte.whatsapp.message.received.v1";
inline constexpr std::string_view kWhatsappStatusType = "fte.whatsapp.status.received.v1";

/// Schema limits of fte.ticket.message.received.v1 a WhatsApp message is cut to.
struct TicketLimits {
  static constexpr std::size_t kDisplayName = 200;
  static constexpr std::size_t kBody = 100'000;
  static constexpr std::size_t kAttachments = 100;
};

/// A WhatsApp message (Twilio webhook) as an inbound message: the sender is
/// the E.164 number Twilio reports (kind `phone`), named by the WhatsApp
/// profile name; media become attachments; channel_metadata keeps what a
/// reply needs (`provider`, `message_sid`, `to` = our number as Twilio
/// wrote it, `messaging_service_sid`, `wa_id`).
/// @throws kafka::PoisonError when the event lacks what its schema guarantees.
[[nodiscard]] InboundMessage inbound_from_whatsapp(const events::CloudEvent& message, std::string source_topic);

/// A Twilio status callback as a delivery update for the message's
/// recipient (the customer's E.164 number, the callback's `To`).
/// @throws kafka::PoisonError as above.
[[nodiscard]] DeliveryUpdate delivery_update_from_whatsapp(const events::CloudEvent& status);

} // namespace fte::normalizer
