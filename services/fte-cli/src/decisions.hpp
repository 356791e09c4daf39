#pragma once

// What the pipeline decided for each customer message, read back from the
// tables the services wrote: the inbound `messages` row, its ticket, the
// agent-worker's reply (an outbound row with the same source_event_id) and
// the escalations of the message. `fte trace` shows these rows; `fte replay
// diff` compares them between the live database and a sandbox's.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace fte::cli {

/// What became of a customer message.
enum class Outcome {
  answered,  ///< the agent-worker wrote a reply
  escalated, ///< the agent-worker handed it to a person
  pending,   ///< neither (yet): the pipeline has not decided
};

[[nodiscard]] std::string_view to_string(Outcome outcome) noexcept;

struct TicketRow {
  std::string id;
  std::string status;
  std::string priority;
  std::optional<std::string> subject;
  std::optional<std::string> category;
};

struct InboundRow {
  std::string id;
  std::string source_event_id;
  std::string correlation_id;
  std::string customer_id;
  std::string channel;
  std::string sender;
  std::string status;
  std::optional<std::string> subject;
  std::string body;
  /// RFC 3339: when the agent-worker stored the message (the row's
  /// created_at; the table keeps no separate time of receipt).
  std::string stored_at;
};

struct KbArticle {
  std::int64_t id = 0;
  std::string slug;
  std::string title;
};

/// The outbound row the agent-worker wrote as its answer.
struct ReplyRow {
  std::string id;
  std::string status;
  std::string body;
  std::optional<KbArticle> kb_article; ///< the row's kb_article_id, with the article as it is now
  std::optional<std::int64_t> kb_article_id;
  std::optional<double> kb_score;
  std::optional<std::string> provider_message_id;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::optional<std::string> sent_at; ///< RFC 3339
  std::string stored_at;              ///< RFC 3339
};

struct EscalationRow {
  std::string id;
  std::string ticket_id;
  std::string reason;
  std::optional<std::string> reason_detail;
  std::string priority;
  std::string status;
  std::string source_event_id;
  std::string created_at; ///< RFC 3339
  /// True for the agent-worker's own decision to escalate the message (its
  /// escalation event's id is derived from the message's event id); false
  /// for an escalation raised later because the reply was not delivered.
  bool by_agent = false;
};

/// One customer message and what the pipeline stored for it.
struct Decision {
  InboundRow inbound;
  std::optional<TicketRow> ticket;
  std::optional<ReplyRow> reply;
  std::vector<EscalationRow> escalations; ///< in the order they were recorded
  Outcome outcome = Outcome::pending;

  /// The escalation that decided the outcome: the agent-worker's when it
  /// escalated the message, nullptr when it answered it (an escalation for
  /// an undelivered reply is not the agent's decision) or when the
  /// escalation service has not recorded it yet.
  [[nodiscard]] const EscalationRow* deciding_escalation() const noexcept;
  [[nodiscard]] std::optional<std::int64_t> kb_article_id() const noexcept;
  [[nodiscard]] std::optional<double> kb_score() const noexcept;
};

/// The decision as JSON: the message's ids, customer, channel, stored_at,
/// outcome, ticket, kb_article and kb_score, reply, the deciding escalation,
/// and every escalation row of the message.
[[nodiscard]] nlohmann::json to_json(const Decision& decision);

/// The message's table rows as JSON, every column read, for `fte trace`:
/// {"source_event_id", "outcome", "ticket", "inbound", "outbound",
/// "escalations"} (ticket and outbound null when there is none).
[[nodiscard]] nlohmann::json rows_json(const Decision& decision);

/// Which messages to load: by the inbound event id (messages.source_event_id
/// of the inbound row) or by correlation id (every inbound message the
/// gateway request led to); a message matching either is loaded once.
struct DecisionQuery {
  std::vector<std::string> source_event_ids;
  std::vector<std::string> correlation_ids;
};

/// Loads the decisions of the inbound messages `query` names, in the order
/// they were stored, from one consistent snapshot (one repeatable-read,
/// read-only transaction).
///
/// The outcome: `answered` when an outbound row with the message's
/// source_event_id exists (the agent writes it in the same transaction as
/// the inbound row); else `escalated` when the agent's escalation row
/// exists or the message's ticket is escalated (the agent marks the ticket
/// at once; the escalation service writes its row a moment later); else
/// `pending`.
/// @throws pqxx errors as they come.
[[nodiscard]] std::vector<Decision> load_decisions(pqxx::connection& connection, const DecisionQuery& query);

/// Every inbound message in the database (a sandbox's: all of them come
/// from the replay), as load_decisions reads them.
[[nodiscard]] std::vector<Decision> load_all_decisions(pqxx::connection& connection);

} // namespace fte::cli
