#pragma once

#include <array>
#include <string_view>

namespace fte::kafka::topics {

// The contract's topics (ARCHITECTURE.md, Topics).
inline constexpr std::string_view kWhatsappInbound = "fte.channels.whatsapp.inbound";
inline constexpr std::string_view kEmailInbound = "fte.channels.email.inbound";
inline constexpr std::string_view kWebformInbound = "fte.channels.webform.inbound";
inline constexpr std::string_view kTicketsIncoming = "fte.tickets.incoming";
inline constexpr std::string_view kEscalations = "fte.escalations";
inline constexpr std::string_view kMetricsAgent = "fte.metrics.agent";
inline constexpr std::string_view kDlq = "fte.dlq";

inline constexpr std::array<std::string_view, 7> kAll = {
    kWhatsappInbound, kEmailInbound, kWebformInbound, kTicketsIncoming, kEscalations, kMetricsAgent, kDlq};

} // namespace fte::kafka::topics
