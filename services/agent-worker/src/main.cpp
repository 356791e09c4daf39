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
        options.metrics = service.registry();
        // The knowledge is read, embedded and calibrated before the first
        // batch, then follows changes on a thread of its own (ADR 0018).
        auto knowledge = std::make_shared<fte::knowledge::KnowledgeBase>(
            service.env().get_or("FTE_DATABASE_URL", fte::runtime::kDefaultDatabaseUrl),
            fte::knowledge::embedder_from_env(service.env()), fte::knowledge::KnowledgeOptions::from_env(service.env()),
            service.logger().with({{"component", "knowledge"}}));
        knowledge->load();
        knowledge->watch();
        options.knowledge = std::move(knowledge);
        // Off unless FTE_LLM=openai (ADR 0019).
        if (auto llm = fte::agent::LlmSettings::from_env(service.env()); llm.enabled)
          options.llm = std::make_shared<fte::agent::LlmAgent>(std::move(llm), service.registry());
        return std::make_unique<fte::agent::AgentHandler>(options);
      },
      .start_beside = fte::agent::start_reply_dispatch,
  });
}
