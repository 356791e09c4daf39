#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "fte/common/config.hpp"

namespace fte::kafka::topics {

// The contract's topics (ARCHITECTURE.md, Topics).
inline constexpr std::string_view kWhatsappInbound = "fte.channels.whatsapp.inbound";
inline constexpr std::string_view kEmailInbound = "fte.channels.email.inbound";
inline constexpr std::string_view kWebformInbound = "fte.channels.webform.inbound";
inline constexpr std::string_view kTicketsIncoming = "fte.tickets.incoming";
inline constexpr std::string_view kEscalations = "fte.escalations";
inline constexpr std::string_view kMetricsAgent = "fte.metrics.agent";
// What people did on the escalation desk (issue 16): one event per action.
inline constexpr std::string_view kDeskActivity = "fte.desk.activity";
inline constexpr std::string_view kDlq = "fte.dlq";

inline constexpr std::array<std::string_view, 8> kAll = {kWhatsappInbound, kEmailInbound, kWebformInbound,
                                                         kTicketsIncoming, kEscalations,  kMetricsAgent,
                                                         kDeskActivity,    kDlq};

} // namespace fte::kafka::topics

namespace fte::kafka {

/// The topic names a deployment uses: the contract's names, optionally behind
/// a prefix (FTE_TOPIC_PREFIX) so that test runs or tenants sharing a cluster
/// stay apart. Production leaves the prefix empty.
struct TopicNames {
  std::string whatsapp_inbound;
  std::string email_inbound;
  std::string webform_inbound;
  std::string tickets_incoming;
  std::string escalations;
  std::string metrics_agent;
  std::string desk_activity;
  std::string dlq;

  [[nodiscard]] static TopicNames with_prefix(std::string_view prefix);
  /// FTE_TOPIC_PREFIX (default empty).
  [[nodiscard]] static TopicNames from_env(const Environment& env);
  /// In the order of topics::kAll.
  [[nodiscard]] std::vector<std::string> all() const;
};

} // namespace fte::kafka
