#include "fte/kafka/topics.hpp"

namespace fte::kafka {

TopicNames TopicNames::with_prefix(std::string_view prefix) {
  const std::string p(prefix);
  return TopicNames{p + std::string(topics::kWhatsappInbound), p + std::string(topics::kEmailInbound),
                    p + std::string(topics::kWebformInbound),  p + std::string(topics::kTicketsIncoming),
                    p + std::string(topics::kEscalations),     p + std::string(topics::kMetricsAgent),
                    p + std::string(topics::kDeskActivity),    p + std::string(topics::kDlq)};
}

TopicNames TopicNames::from_env(const Environment& env) { return with_prefix(env.get_or("FTE_TOPIC_PREFIX", "")); }

std::vector<std::string> TopicNames::all() const {
  return {whatsapp_inbound, email_inbound, webform_inbound, tickets_incoming,
          escalations,      metrics_agent, desk_activity,   dlq};
}

} // namespace fte::kafka
