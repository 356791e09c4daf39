#pragma once

#include <string_view>

#include "fte/replies/reply_sender.hpp"

namespace fte::agent {

/// The event types the agent-worker reads and writes (proto/events/).
inline constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
inline constexpr std::string_view kDeliveryUpdatedType = "fte.message.delivery.updated.v1";
inline constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";
inline constexpr std::string_view kMetricType = "fte.agent.message.processed.v1";
inline constexpr std::string_view kAgentSource = "/fte/agent-worker";

using replies::kRepliesChannel;

} // namespace fte::agent
