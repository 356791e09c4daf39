#include "reply_escalation.hpp"

#include "fte/agent_rules/escalation_policy.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"

namespace fte::agent {

nlohmann::json undelivered_reply_escalation(const UndeliveredReply& reply, std::string_view reason,
                                            std::string_view detail,
                                            std::chrono::system_clock::time_point requested_at) {
  std::string summary =
      "Customer wrote: " + (reply.inbound_body.empty() ? std::string("(no text)") : reply.inbound_body);
  summary += "\nOur reply (" + reply.channel + "): " + reply.reply_body;
  std::string why = std::string(reason == kDeliveryUnknown ? "Whether the reply reached the provider is unknown"
                                                           : "The reply was not delivered") +
                    " (reply " + reply.reply_id + "): " + std::string(detail);
  return {{"customer_id", reply.customer_id},
          {"ticket_id", reply.ticket_id},
          {"conversation_id", reply.conversation_id},
          // The customer's message, as for every escalation; the reply is named in reason_detail.
          {"message_id", name_based_uuid(kFteNamespace, "message:inbound:" + reply.source_event_id)},
          {"reason", reason},
          {"reason_detail", truncate_utf8(why, 1000)},
          {"priority", max_priority(reply.ticket_priority.empty() ? "normal" : reply.ticket_priority, "high")},
          {"channel", reply.channel},
          {"summary", truncate_utf8(summary, 2000)},
          {"source_event_id", reply.source_event_id},
          {"requested_at", format_rfc3339(requested_at)}};
}

} // namespace fte::agent
