#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fte::agent {

/// What an escalation about a reply that did not (or may not have) reached
/// the customer needs to know about it.
struct UndeliveredReply {
  std::string reply_id; ///< messages.id of the outbound row
  std::string customer_id;
  std::string conversation_id;
  std::string ticket_id;
  std::string channel;
  std::string source_event_id; ///< the ticket message the reply answers
  std::string correlation_id;
  std::string inbound_body;    ///< what the customer wrote
  std::string reply_body;      ///< what we tried to send
  std::string ticket_priority; ///< empty when unknown
};

/// `delivery_unknown`: the provider may or may not have the reply and
/// cannot say; `delivery_failed`: it was refused or reported undelivered.
inline constexpr std::string_view kDeliveryUnknown = "delivery_unknown";
inline constexpr std::string_view kDeliveryFailed = "delivery_failed";

/// The `data` of an fte.escalation.requested.v1 for `reply` (proto/'s
/// schema; checked in the unit tests). The priority is at least high: the
/// customer is waiting for an answer that may never have arrived.
[[nodiscard]] nlohmann::json undelivered_reply_escalation(const UndeliveredReply& reply, std::string_view reason,
                                                          std::string_view detail,
                                                          std::chrono::system_clock::time_point requested_at);

} // namespace fte::agent
