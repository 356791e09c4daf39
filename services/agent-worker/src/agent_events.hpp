#pragma once

#include <string_view>

namespace fte::agent {

/// The event types the agent-worker reads and writes (proto/events/).
inline constexpr std::string_view kTicketMessageType = "fte.ticket.message.received.v1";
inline constexpr std::string_view kDeliveryUpdatedType = "fte.message.delivery.updated.v1";
inline constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";
inline constexpr std::string_view kMetricType = "fte.agent.message.processed.v1";
inline constexpr std::string_view kAgentSource = "/fte/agent-worker";

/// The PostgreSQL NOTIFY channel that tells the reply dispatcher a reply
/// was committed (ADR 0010); the dispatcher also polls, so a lost
/// notification only delays a reply by one poll interval.
inline constexpr std::string_view kRepliesChannel = "fte_replies";

} // namespace fte::agent
