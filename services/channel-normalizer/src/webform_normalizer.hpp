#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "fte/events/cloud_event.hpp"

namespace fte::normalizer {

inline constexpr std::string_view kWebformType = "fte.webform.submission.received.v1";
inline constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
inline constexpr std::string_view kSource = "/fte/channel-normalizer";

/// Who sent a message, as the customer directory knows them.
struct Sender {
  std::string kind;    ///< email, phone, whatsapp
  std::string address; ///< normalised: lower-case email, E.164 number
  std::string display_name;
};

/// The sender of a webform submission. @throws kafka::PoisonError when the
/// event lacks what its schema guarantees (only a bug or a forged record).
[[nodiscard]] Sender webform_sender(const events::CloudEvent& submission);

/// The unified ticket message (fte.ticket.message.received.v1 `data`) for a
/// webform submission, once its customer is known.
[[nodiscard]] nlohmann::json ticket_message_from_webform(const events::CloudEvent& submission,
                                                         const std::string& customer_id,
                                                         const std::string& source_topic);

} // namespace fte::normalizer
