// agent-worker: answers ticket messages from the knowledge base or escalates
// them, one transaction per batch and exactly one effect per message, and
// applies the delivery statuses of the replies; beside the consumer, the
// reply dispatcher sends the replies at most once each (ADR 0010).
#include "agent_handler.hpp"
#include "fte/runtime/consumer_service.hpp"
#include "reply_dispatch_service.hpp"

int main() {
  return fte::runtime::consumer_service_main({
      .name = "agent-worker",
      .admin_address = "0.0.0.0:9102",
      .input_topics = [](const fte::kafka::TopicNames& t) { return std::vector<std::string>{t.tickets_incoming}; },
      .accepted_types = {std::string(fte::agent::AgentHandler::kTicketMessageType),
                         std::string(fte::agent::AgentHandler::kDeliveryUpdatedType)},
      .make_domain = [](fte::runtime::Service& service,
                        const fte::kafka::TopicNames& topics) -> std::unique_ptr<fte::runtime::DomainHandler> {
        fte::agent::AgentOptions options;
        options.topics = topics;
        options.min_score = service.env().get_double("FTE_KB_MIN_SCORE", options.min_score, 0.0, 1.0);
        options.metrics = service.registry();
        return std::make_unique<fte::agent::AgentHandler>(options);
      },
      .start_beside = fte::agent::start_reply_dispatch,
  });
}
