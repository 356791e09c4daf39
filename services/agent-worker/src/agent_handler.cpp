#include "agent_handler.hpp"

#include <map>
#include <set>
#include <tuple>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "fte/agent_rules/decision.hpp"
#include "fte/agent_rules/ticket_rules.hpp"
#include "fte/common/ids.hpp"
#include "fte/common/time.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::agent {
namespace {

// An email continues the conversation of its Gmail thread (a reply to our
// reply is in the same thread); other channels, and mail without a thread
// id, the customer's latest open conversation on the channel.
constexpr const char* kFindConversations = "agent_find_conversations";
constexpr const char* kFindConversationsSql =
    "SELECT DISTINCT ON (k.customer_id, k.channel, k.thread) k.customer_id::text, k.channel, k.thread, c.id::text "
    "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(customer_id, channel, thread) "
    "JOIN conversations c ON c.customer_id = k.customer_id AND c.channel = k.channel AND c.status = 'open' "
    "AND (k.thread = '' OR c.external_thread = k.thread) "
    "ORDER BY k.customer_id, k.channel, k.thread, c.last_message_at DESC";
constexpr const char* kOpenConversations = "agent_open_conversations";
constexpr const char* kOpenConversationsSql =
    "INSERT INTO conversations (id, customer_id, channel, external_thread, started_at, last_message_at) "
    "SELECT id, customer_id, channel, NULLIF(thread, ''), clock_timestamp(), clock_timestamp() "
    "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS c(id, customer_id, channel, thread) ORDER BY id";
// Sorted ids: row locks in one order whatever the lane.
constexpr const char* kTouchConversations = "agent_touch_conversations";
constexpr const char* kTouchConversationsSql =
    "UPDATE conversations c SET last_message_at = clock_timestamp() "
    "FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS u(id) ORDER BY id) u WHERE c.id = u.id";
constexpr const char* kFindOpenTickets = "agent_find_open_tickets";
constexpr const char* kFindOpenTicketsSql =
    "SELECT DISTINCT ON (conversation_id) conversation_id::text, id::text FROM tickets "
    "WHERE conversation_id = ANY($1::uuid[]) AND status IN ('open', 'answered') "
    "ORDER BY conversation_id, created_at DESC";
constexpr const char* kOpenTickets = "agent_open_tickets";
constexpr const char* kOpenTicketsSql =
    "INSERT INTO tickets (id, conversation_id, customer_id, subject, category, priority, status, created_at, "
    "updated_at) SELECT id, conversation_id, customer_id, NULLIF(subject, ''), NULLIF(category, ''), priority, "
    "status, clock_timestamp(), clock_timestamp() "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) "
    "WITH ORDINALITY AS t(id, conversation_id, customer_id, subject, category, priority, status, ord) ORDER BY ord";
constexpr const char* kUpdateTickets = "agent_update_tickets";
constexpr const char* kUpdateTicketsSql =
    "UPDATE tickets t SET status = u.status, priority = u.priority, updated_at = clock_timestamp() "
    "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, status, priority) WHERE t.id = u.id";
// Inbound messages and replies interleaved in one statement, so created_at
// orders a conversation as it happened. A reply is due at once
// (next_attempt_at) for the dispatcher.
constexpr const char* kStoreMessages = "agent_store_messages";
constexpr const char* kStoreMessagesSql =
    "INSERT INTO messages (id, conversation_id, ticket_id, customer_id, direction, channel, sender, subject, body, "
    "status, source_event_id, correlation_id, kb_article_id, kb_score, kb_threshold, kb_method, channel_metadata, "
    "recipient, agent_output, next_attempt_at, created_at, updated_at) "
    "SELECT id, conversation_id, ticket_id, customer_id, direction, channel, sender, NULLIF(subject, ''), body, "
    "status, source_event_id, correlation_id, kb_article_id, kb_score, kb_threshold, NULLIF(kb_method, ''), "
    "channel_metadata, NULLIF(recipient, ''), agent_output, "
    "CASE WHEN direction = 'outbound' THEN clock_timestamp() END, clock_timestamp(), clock_timestamp() "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::real[], $15::real[], $16::text[], "
    "$17::jsonb[], $18::text[], $19::jsonb[]) "
    "WITH ORDINALITY AS m(id, conversation_id, ticket_id, customer_id, direction, channel, sender, subject, body, "
    "status, source_event_id, correlation_id, kb_article_id, kb_score, kb_threshold, kb_method, channel_metadata, "
    "recipient, agent_output, ord) "
    "ORDER BY ord";

// Customers the agent must not answer (ADR 0021): a person owns their desk
// conversation, or resolved it so lately that the customer's message
// reopens it. Their messages are handed over (reason desk_conversation)
// and join that conversation.
constexpr const char* kHeldCustomers = "agent_held_customers";
constexpr const char* kHeldCustomersSql =
    "SELECT DISTINCT ON (customer_id) customer_id::text, coalesce(owner, '') FROM desk_conversations "
    "WHERE customer_id = ANY($1::uuid[]) AND (status IN ('assigned', 'waiting') "
    "  OR (status = 'resolved' AND reopen_until > clock_timestamp())) "
    "ORDER BY customer_id, (status = 'resolved'), created_at DESC";

// One ticket message, read once.
struct Inbound {
  const kafka::Delivery* delivery;
  std::string customer_id;
  std::string channel;
  std::string subject;
  std::string body;
  std::string category;
  std::string priority;
  std::string sender;
  std::chrono::system_clock::time_point received_at;
  std::string text;        ///< subject and body, what the rules and the search read
  nlohmann::json metadata; ///< data.channel_metadata, an object
  std::string thread;      ///< email: the Gmail thread id; otherwise empty
};

// The columns of the messages insert, a row at a time.
struct MessageRows {
  pg::ArrayLiteral id, conversation, ticket, customer, direction, channel, sender, subject, body, status, source,
      correlation, kb_article, kb_score, kb_threshold, kb_method, metadata, recipient, agent_output;
};

// (customer, channel, thread): what finds a conversation.
using ConversationKey = std::tuple<std::string, std::string, std::string>;

struct TicketState {
  std::string status;
  std::string priority;
};

} // namespace

// What the agent decided and what it decides with (ADR 0018). Labels come
// from fixed vocabularies (stage, outcome, the escalation reasons).
struct AgentHandler::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : decisions(prometheus::BuildCounter()
                      .Name("fte_agent_decisions_total")
                      .Help("Ticket messages decided, by outcome, the stage that decided (lexical, semantic "
                            "retrieval, or llm: the model's answer was sent) and the handover reason")
                      .Register(registry)),
        threshold(prometheus::BuildGauge()
                      .Name("fte_agent_knowledge_threshold")
                      .Help("The answer threshold of each retrieval stage, picked for FTE_AGENT_TARGET_PRECISION")
                      .Register(registry)),
        items(prometheus::BuildGauge()
                  .Name("fte_agent_knowledge_items")
                  .Help("What the agent's in-memory knowledge holds: articles, past resolutions, calibration "
                        "messages")
                  .Register(registry)),
        embedding_failures(prometheus::BuildGauge()
                               .Name("fte_agent_embedding_failures")
                               .Help("Embedding calls that failed since start (the lexical decision stood)")
                               .Register(registry)
                               .Add({})),
        lexical_threshold(threshold.Add({{"stage", "lexical"}})),
        semantic_threshold(threshold.Add({{"stage", "semantic"}})), articles(items.Add({{"kind", "articles"}})),
        examples(items.Add({{"kind", "examples"}})), calibration(items.Add({{"kind", "calibration"}})) {}

  void observe(const knowledge::KnowledgeStatus& status, std::uint64_t failures) {
    lexical_threshold.Set(status.lexical.threshold);
    semantic_threshold.Set(status.semantic ? status.semantic_calibration.threshold : 0.0);
    articles.Set(static_cast<double>(status.articles));
    examples.Set(static_cast<double>(status.examples));
    calibration.Set(static_cast<double>(status.calibration_messages));
    embedding_failures.Set(static_cast<double>(failures));
  }
  void count(const AgentDecision& decision) {
    decisions
        .Add({{"outcome", decision.answered() ? "answered" : "escalated"},
              {"stage", decision.reply_text.empty() ? knowledge::method_name(decision.knowledge.method) : "llm"},
              {"reason", decision.escalation ? decision.escalation->reason : ""}})
        .Increment();
  }

  prometheus::Family<prometheus::Counter>& decisions;
  prometheus::Family<prometheus::Gauge>& threshold;
  prometheus::Family<prometheus::Gauge>& items;
  prometheus::Gauge& embedding_failures;
  prometheus::Gauge& lexical_threshold;
  prometheus::Gauge& semantic_threshold;
  prometheus::Gauge& articles;
  prometheus::Gauge& examples;
  prometheus::Gauge& calibration;
};

AgentHandler::AgentHandler(AgentOptions options)
    : options_(std::move(options)), deliveries_(options_.topics.escalations, options_.metrics) {
  if (!options_.knowledge) throw std::invalid_argument("AgentHandler needs the knowledge base");
  if (options_.metrics) metrics_ = std::make_unique<Metrics>(*options_.metrics);
}

AgentHandler::~AgentHandler() = default;

void AgentHandler::prepare(pqxx::connection& connection) const {
  connection.prepare(kFindConversations, kFindConversationsSql);
  connection.prepare(kOpenConversations, kOpenConversationsSql);
  connection.prepare(kTouchConversations, kTouchConversationsSql);
  connection.prepare(kFindOpenTickets, kFindOpenTicketsSql);
  connection.prepare(kOpenTickets, kOpenTicketsSql);
  connection.prepare(kUpdateTickets, kUpdateTicketsSql);
  connection.prepare(kStoreMessages, kStoreMessagesSql);
  connection.prepare(kHeldCustomers, kHeldCustomersSql);
  DeliveryUpdates::prepare(connection);
}

void AgentHandler::apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                         runtime::Outputs& outputs) const {
  // The two kinds touch different rows (a status names a reply sent after
  // an earlier batch committed), so each kind is applied set-wise on its own;
  // the outputs are published per source event in batch order regardless.
  std::vector<const kafka::Delivery*> messages, statuses;
  for (const auto* d : fresh) {
    (d->event.type == kDeliveryUpdatedType ? statuses : messages).push_back(d);
  }
  if (!messages.empty()) apply_messages(tx, messages, outputs);
  if (!statuses.empty()) deliveries_.apply(tx, statuses, outputs);
}

void AgentHandler::apply_messages(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh,
                                  runtime::Outputs& outputs) const {
  std::vector<Inbound> items;
  items.reserve(fresh.size());
  for (const auto* d : fresh) {
    const auto& data = d->event.data;
    Inbound in{d,
               events::string_field(data, "customer_id"),
               events::string_field(data, "channel"),
               events::string_field(data, "subject"),
               events::string_field(data, "body"),
               events::string_field(data, "category"),
               events::string_field(data, "priority", "normal"),
               data.contains("sender") ? events::string_field(data["sender"], "address") : std::string(),
               parse_rfc3339(events::string_field(data, "received_at")).value_or(d->event.time),
               {},
               nlohmann::json::object(),
               {}};
    in.text = in.subject.empty() ? in.body : in.subject + "\n" + in.body;
    if (const auto it = data.find("channel_metadata"); it != data.end() && it->is_object()) in.metadata = *it;
    if (in.channel == "email") in.thread = events::string_field(in.metadata, "thread_id");
    items.push_back(std::move(in));
  }

  // 1. Each (customer, channel, thread)'s open conversation, or a new one.
  std::map<ConversationKey, std::string> conversation_of;
  {
    std::set<ConversationKey> keys;
    for (const auto& in : items)
      keys.emplace(in.customer_id, in.channel, in.thread);
    pg::ArrayLiteral customers, channels, threads;
    for (const auto& [customer, channel, thread] : keys) {
      customers.add(customer);
      channels.add(channel);
      threads.add(thread);
    }
    for (const auto& row : tx.exec_prepared(kFindConversations, customers.str(), channels.str(), threads.str())) {
      conversation_of[{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()}] =
          row[3].as<std::string>();
    }
  }
  std::set<std::string> existing_conversations;
  for (const auto& [pair, id] : conversation_of)
    existing_conversations.insert(id);
  {
    pg::ArrayLiteral ids, customers, channels, threads;
    for (const auto& in : items) {
      const ConversationKey key{in.customer_id, in.channel, in.thread};
      if (conversation_of.contains(key)) continue;
      const auto id = name_based_uuid(kFteNamespace, "conversation:" + in.delivery->event.id);
      conversation_of.emplace(key, id);
      ids.add(id);
      customers.add(in.customer_id);
      channels.add(in.channel);
      threads.add(in.thread);
    }
    if (ids.size() > 0) {
      tx.exec_prepared(kOpenConversations, ids.str(), customers.str(), channels.str(), threads.str());
    }
    if (!existing_conversations.empty()) {
      pg::ArrayLiteral touched;
      for (const auto& id : existing_conversations)
        touched.add(id);
      tx.exec_prepared(kTouchConversations, touched.str());
    }
  }

  // 2. Chat and mail continue a conversation's open ticket; a form
  //    submission is a new case.
  std::map<std::string, std::string> open_ticket_of; // conversation -> ticket, as stored
  {
    pg::ArrayLiteral continuing;
    for (const auto& id : existing_conversations)
      continuing.add(id);
    const bool any_chat =
        std::any_of(items.begin(), items.end(), [](const Inbound& in) { return in.channel != "webform"; });
    if (any_chat && continuing.size() > 0) {
      for (const auto& row : tx.exec_prepared(kFindOpenTickets, continuing.str()))
        open_ticket_of[row[0].as<std::string>()] = row[1].as<std::string>();
    }
  }

  // 3. The knowledge, for the whole batch at once (in this process: the
  //    index is in memory, ADR 0018).
  //    A message the policy hands over is not ranked: its outcome is known,
  //    and ranking could cost an embedding (tens of milliseconds).
  //    A customer a person is talking to is not answered at all.
  std::map<std::string, std::string> held; // customer -> the person who owns the conversation
  {
    std::set<std::string> distinct;
    for (const auto& in : items)
      distinct.insert(in.customer_id);
    pg::ArrayLiteral customers;
    for (const auto& customer : distinct)
      customers.add(customer);
    for (const auto& row : tx.exec_prepared(kHeldCustomers, customers.str()))
      held[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  constexpr auto kNotRanked = static_cast<std::size_t>(-1);
  std::vector<std::optional<EscalationDecision>> by_policy(items.size());
  std::vector<std::string> texts;
  std::vector<std::size_t> ranked_at(items.size(), kNotRanked);
  texts.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    by_policy[i] = policy_.evaluate(items[i].text, items[i].priority);
    if (const auto owner = held.find(items[i].customer_id); owner != held.end() && !by_policy[i]) {
      by_policy[i] = EscalationDecision{"desk_conversation",
                                        owner->second.empty() ? "the customer is in a desk conversation"
                                                              : owner->second + " is talking to the customer",
                                        items[i].priority};
    }
    if (by_policy[i]) continue;
    ranked_at[i] = texts.size();
    texts.push_back(items[i].text);
  }
  const auto* llm = options_.llm.get();
  const auto knowledge = options_.knowledge->decide(texts, llm ? llm->settings().context_articles : 0);
  const knowledge::KnowledgeDecision not_ranked;
  // With a model: one call per ranked message retrieval offered something
  // for, all in flight at once; the decisions below stay in offset order.
  std::vector<std::optional<ModelCall>> model_calls(items.size());
  if (llm) {
    std::vector<LlmQuestion> questions;
    std::vector<std::size_t> asked;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (ranked_at[i] == kNotRanked || !llm->worth_asking(knowledge[ranked_at[i]])) continue;
      questions.push_back({items[i].text, &knowledge[ranked_at[i]].context});
      asked.push_back(i);
    }
    auto calls = llm->ask(questions);
    for (std::size_t j = 0; j < asked.size(); ++j)
      model_calls[asked[j]] = std::move(calls[j]);
  }
  if (metrics_) metrics_->observe(options_.knowledge->status(), options_.knowledge->embedding_failures());

  // 4. Decisions, in offset order; which ticket each continues is the
  //    agent's rule (TicketContinuation), seeded with the stored open ones.
  TicketContinuation tickets(std::move(open_ticket_of));
  std::map<std::string, TicketState> final_state; // every ticket touched
  std::set<std::string> new_tickets;
  pg::ArrayLiteral t_id, t_conversation, t_customer, t_subject, t_category, t_priority, t_status;
  std::vector<std::string> new_ticket_order;
  MessageRows m;
  std::size_t replies = 0;
  const auto now = std::chrono::system_clock::now();
  const auto requested_at = format_rfc3339(now);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& in = items[i];
    const auto& event = in.delivery->event;
    const auto& conversation_id = conversation_of.at({in.customer_id, in.channel, in.thread});

    const auto& retrieval = ranked_at[i] == kNotRanked ? not_ranked : knowledge[ranked_at[i]];
    const auto decision = llm ? llm->decide(by_policy[i], in.priority, retrieval, model_calls[i])
                              : decide(by_policy[i], in.priority, retrieval);
    if (metrics_) metrics_->count(decision);
    const auto& escalation = decision.escalation;
    const auto& article = decision.knowledge.article;
    const TicketState state{escalation ? "escalated" : "answered", escalation ? escalation->priority : in.priority};

    std::string ticket_id = tickets.continues(in.channel, conversation_id);
    if (ticket_id.empty()) {
      ticket_id = name_based_uuid(kFteNamespace, "ticket:" + event.id);
      new_tickets.insert(ticket_id);
      new_ticket_order.push_back(ticket_id);
      t_id.add(ticket_id);
      t_conversation.add(conversation_id);
      t_customer.add(in.customer_id);
      t_subject.add(in.subject);
      t_category.add(in.category);
    }
    final_state[ticket_id] = state;
    tickets.decided(conversation_id, ticket_id, escalation.has_value());

    const auto message_id = name_based_uuid(kFteNamespace, "message:inbound:" + event.id);
    m.id.add(message_id);
    m.conversation.add(conversation_id);
    m.ticket.add(ticket_id);
    m.customer.add(in.customer_id);
    m.direction.add("inbound");
    m.channel.add(in.channel);
    m.sender.add(in.sender);
    m.subject.add(in.subject);
    m.body.add(in.body);
    m.status.add("received");
    m.source.add(event.id);
    m.correlation.add(event.correlationid);
    m.kb_article.add_null();
    m.kb_score.add_null();
    m.kb_threshold.add_null();
    m.kb_method.add_null();
    m.metadata.add(in.metadata.dump());
    m.recipient.add_null();
    if (model_calls[i]) {
      m.agent_output.add(model_calls[i]->record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      m.agent_output.add_null();
    }
    if (!escalation) {
      m.id.add(name_based_uuid(kFteNamespace, "message:reply:" + event.id));
      m.conversation.add(conversation_id);
      m.ticket.add(ticket_id);
      m.customer.add(in.customer_id);
      m.direction.add("outbound");
      m.channel.add(in.channel);
      m.sender.add("fte-agent");
      m.subject.add(in.subject.empty() ? std::string() : "Re: " + in.subject);
      m.body.add(decision.reply_text.empty() ? article->body : decision.reply_text);
      m.status.add("pending");
      m.source.add(event.id);
      m.correlation.add(event.correlationid);
      m.kb_article.add(article->id);
      m.kb_score.add(decision.knowledge.score);
      m.kb_threshold.add(decision.knowledge.threshold);
      m.kb_method.add(knowledge::method_name(decision.knowledge.method));
      // What the dispatcher needs to answer on the same channel: the
      // inbound's metadata (our number, the Gmail thread, the Message-ID)
      // and the customer's address there.
      m.metadata.add(nlohmann::json{{"inbound", in.metadata}}.dump());
      m.recipient.add(in.sender);
      m.agent_output.add_null();
      ++replies;
    }

    // Built to proto/'s schemas and checked against them in the unit tests;
    // the escalation service validates what it receives.
    const auto publish = [&](events::CloudEvent out, const std::string& topic) {
      out.customerid = in.customer_id;
      out.subject = in.customer_id;
      outputs.add_event(event.id, topic, in.customer_id, out);
    };
    if (escalation) {
      publish(events::derive_event(event, "agent-worker", "escalation", std::string(kSource),
                                   std::string(kEscalationType),
                                   {{"customer_id", in.customer_id},
                                    {"ticket_id", ticket_id},
                                    {"conversation_id", conversation_id},
                                    {"message_id", message_id},
                                    {"reason", escalation->reason},
                                    {"reason_detail", truncate_utf8(escalation->detail, 1000)},
                                    {"priority", escalation->priority},
                                    {"channel", in.channel},
                                    {"summary", truncate_utf8(in.text, 2000)},
                                    {"source_event_id", event.id},
                                    {"requested_at", requested_at}}),
              options_.topics.escalations);
    }
    const double latency_ms = std::max(0.0, std::chrono::duration<double, std::milli>(now - in.received_at).count());
    publish(events::derive_event(
                event, "agent-worker", "metric", std::string(kSource), std::string(kMetricType),
                {{"customer_id", in.customer_id},
                 {"ticket_id", ticket_id},
                 {"message_id", message_id},
                 {"channel", in.channel},
                 {"outcome", escalation ? "escalated" : "answered"},
                 {"latency_ms", latency_ms},
                 {"kb_score", article ? nlohmann::json(decision.knowledge.score) : nlohmann::json(nullptr)},
                 {"kb_article_id", article ? nlohmann::json(article->id) : nlohmann::json(nullptr)},
                 {"processed_at", requested_at},
                 {"source_event_id", event.id}}),
            options_.topics.metrics_agent);
  }

  // 5. The rows: tickets (with their final state), messages, and the state
  //    of tickets that existed before this batch.
  if (!new_ticket_order.empty()) {
    for (const auto& id : new_ticket_order) {
      const auto& state = final_state.at(id);
      t_priority.add(state.priority);
      t_status.add(state.status);
    }
    tx.exec_prepared(kOpenTickets, t_id.str(), t_conversation.str(), t_customer.str(), t_subject.str(),
                     t_category.str(), t_priority.str(), t_status.str());
  }
  tx.exec_prepared(kStoreMessages, m.id.str(), m.conversation.str(), m.ticket.str(), m.customer.str(),
                   m.direction.str(), m.channel.str(), m.sender.str(), m.subject.str(), m.body.str(), m.status.str(),
                   m.source.str(), m.correlation.str(), m.kb_article.str(), m.kb_score.str(), m.kb_threshold.str(),
                   m.kb_method.str(), m.metadata.str(), m.recipient.str(), m.agent_output.str());
  // Delivered to the dispatcher's LISTEN only if this transaction commits.
  if (replies > 0) tx.exec("NOTIFY " + std::string(kRepliesChannel));
  pg::ArrayLiteral u_id, u_status, u_priority;
  for (const auto& [id, state] : final_state) {
    if (new_tickets.contains(id)) continue;
    u_id.add(id);
    u_status.add(state.status);
    u_priority.add(state.priority);
  }
  if (u_id.size() > 0) tx.exec_prepared(kUpdateTickets, u_id.str(), u_status.str(), u_priority.str());
}

} // namespace fte::agent
