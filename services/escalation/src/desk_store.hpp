#pragma once

// The escalation desk's conversations in PostgreSQL (ADR 0021): what the
// escalation consumer does with each handover, and what people do through
// the API. Each action is one transaction that locks the conversation's
// row, asks desk_rules what may happen, writes the change, an audit row
// and an fte.desk.activity event in the outbox, and NOTIFYs `fte_desk`
// (the console's live updates).

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "desk_rules.hpp"
#include "fte/access/api_token.hpp"
#include "fte/common/config.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/pg/pool.hpp"
#include "fte/runtime/outbox.hpp"

namespace fte::escalation::desk {

/// The PostgreSQL channel every desk change is NOTIFYed on, with the
/// conversation's id as the payload.
inline constexpr std::string_view kDeskChannel = "fte_desk";
/// The event type of fte.desk.activity.
inline constexpr std::string_view kActivityType = "fte.desk.activity.recorded.v1";
/// The outbox owner of what people's actions publish.
inline constexpr std::string_view kOutboxOwner = "escalation-desk";

struct DeskSettings {
  /// A customer's message within this long after a resolution reopens the
  /// conversation (and the agent stays silent): FTE_DESK_REOPEN_HOURS.
  std::chrono::hours reopen_window{72};
  /// FTE_DESK_AUTO_ASSIGN=round_robin: a new conversation goes to an agent
  /// signed in within FTE_DESK_ONLINE_MINUTES; `off` (default): the queue.
  bool round_robin = false;
  std::chrono::minutes online_window{15};
  /// FTE_DESK_WHATSAPP_TEMPLATES (JSON, desk_rules::parse_templates).
  std::vector<WhatsAppTemplate> templates;

  /// @throws ConfigError
  [[nodiscard]] static DeskSettings from_env(const Environment& env);
};

/// One escalation request the consumer records: it opens the customer's
/// conversation or joins the one they are in.
struct Handover {
  const events::CloudEvent* cause; ///< the fte.escalation.requested.v1 event
  std::string customer_id;
  std::string message_id; ///< may be empty
  std::string channel;
  std::string priority;
  std::string reason;
};

/// The consumer's part, inside its batch transaction: each handover, in
/// order, joins the customer's conversation (reopening a resolved one
/// within its window) or opens one (round-robin assigned when on); the
/// escalation rows are linked and their events added to `outputs`.
void take_handovers(pqxx::work& tx, const DeskSettings& settings, std::span<const Handover> handovers,
                    runtime::Outputs& outputs, const std::string& activity_topic);
/// Declares the consumer's statements on a new connection.
void prepare_handovers(pqxx::connection& connection);

/// What an API call answers: a JSON body (200) or a refusal.
using Answer = std::variant<nlohmann::json, Refusal>;

/// GET /api/conversations filters.
struct QueueQuery {
  std::string view = "mine"; ///< mine | unassigned | all (supervisors)
  std::string channel;       ///< empty: any
  std::string priority;      ///< empty: any
  bool breached = false;     ///< only those past their due time
  int limit = 50;
  std::string after; ///< the `next` cursor of the previous page
};

/// People's part. Every method runs its own transaction and throws when
/// the database fails (the API answers 503).
class DeskStore {
public:
  /// `outbox` stores the activity events in each action's transaction; the
  /// relay (relay()) publishes them.
  DeskStore(pg::ConnectionPool& database, const runtime::Outbox& outbox, std::string activity_topic,
            DeskSettings settings);

  [[nodiscard]] const DeskSettings& settings() const noexcept { return settings_; }

  [[nodiscard]] Answer queue(const access::Principal& who, const QueueQuery& query) const;
  [[nodiscard]] Answer conversation(const access::Principal& who, const std::string& id) const;
  [[nodiscard]] Answer claim(const access::Principal& who, const std::string& id) const;
  [[nodiscard]] Answer release(const access::Principal& who, const std::string& id) const;
  [[nodiscard]] Answer assign(const access::Principal& who, const std::string& id, const std::string& to) const;
  [[nodiscard]] Answer note(const access::Principal& who, const std::string& id, const std::string& body) const;
  /// `idempotency_key` empty: none (each request is a new reply).
  [[nodiscard]] Answer reply(const access::Principal& who, const std::string& id, const ReplyRequest& request,
                             const std::string& idempotency_key) const;
  /// `article` empty: resolved without one (the agent learns to hand such
  /// messages over); otherwise its slug, or the one a reply here cited.
  [[nodiscard]] Answer resolve(const access::Principal& who, const std::string& id, const std::string& article) const;
  [[nodiscard]] Answer reopen(const access::Principal& who, const std::string& id) const;
  [[nodiscard]] Answer sla() const;
  [[nodiscard]] Answer put_sla(const access::Principal& who, const std::vector<SlaTarget>& targets) const;

  /// Active conversations per status (open, assigned, waiting): how many,
  /// and how many are past their due time. For the SLA metrics.
  struct StatusCount {
    std::string status;
    std::int64_t active = 0;
    std::int64_t breached = 0;
  };
  [[nodiscard]] std::vector<StatusCount> counts() const;

  /// Publishes what actions left in the outbox; returns the failure, empty
  /// on success. One caller per process (the service's relay task), so no
  /// row is published twice by two publishers racing.
  [[nodiscard]] std::string relay() const;
  /// Called after each action commits (the service wakes its relay task).
  void on_committed(std::function<void()> wake) { on_committed_ = std::move(wake); }

private:
  struct Locked;
  /// Locks the conversation and applies `rule`; writes the change, the
  /// audit row and its event; answers the conversation's new summary.
  template <class Rule, class After>
  Answer change(const access::Principal& who, const std::string& id, std::string_view action, Rule rule,
                After after) const;

  pg::ConnectionPool& database_;
  const runtime::Outbox& outbox_;
  std::string activity_topic_;
  DeskSettings settings_;
  std::function<void()> on_committed_;
};

/// Whether `text` is a canonical lower-case UUID (what a conversation id
/// in a path must be before it reaches SQL).
[[nodiscard]] bool is_uuid(std::string_view text) noexcept;

} // namespace fte::escalation::desk
