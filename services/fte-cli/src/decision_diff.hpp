#pragma once

// `fte replay diff`'s comparison: what the live run decided for each
// message against what a sandbox replay decided for the same message. Pure
// functions over two lists of decisions, so the rules are unit-tested
// without a database.

#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "decisions.hpp"

namespace fte::cli {

/// What `fte replay diff` compares, in the order it reports them.
enum class DecisionField {
  outcome,           ///< answered, escalated (or pending)
  article,           ///< the knowledge-base article the reply came from (by id)
  score,             ///< that article's search score, beyond kScoreTolerance
  reply_text,        ///< the reply's text, exactly
  escalation_reason, ///< the agent's escalation reason
};

/// `reply_text`: the JSON name.
[[nodiscard]] std::string_view to_string(DecisionField field) noexcept;
/// `reply text`: for people.
[[nodiscard]] std::string_view label(DecisionField field) noexcept;

/// Scores are stored as `real` (about 7 significant digits) and the search
/// ranks in floats: a difference below this is the same score.
inline constexpr double kScoreTolerance = 1e-4;

enum class DiffStatus {
  same,
  changed,
  pending_in_sandbox, ///< the sandbox has no decision for it yet: its replay did not finish
  only_in_live,
  only_in_sandbox,
};

[[nodiscard]] std::string_view to_string(DiffStatus status) noexcept;

/// One message, matched by its inbound event id (unique per message, and
/// kept by a sandbox replay; a correlation id can cover several messages).
struct MessageDiff {
  std::string source_event_id;
  std::string correlation_id;
  std::string customer_id;
  std::string channel;
  std::optional<Decision> live;
  std::optional<Decision> sandbox;
  DiffStatus status = DiffStatus::same;
  std::vector<DecisionField> changed; ///< status changed: which fields
  /// Why the sandbox has no decision, when that is known (its DLQ holds
  /// the message, say); printed under the line.
  std::string sandbox_note;
};

struct DiffSummary {
  std::size_t messages = 0;
  std::size_t same = 0;
  std::size_t changed = 0;
  std::size_t pending_in_sandbox = 0;
  std::size_t only_in_live = 0;
  std::size_t only_in_sandbox = 0;
  /// For each field, in how many changed messages it differs.
  std::map<DecisionField, std::size_t> changed_fields;

  /// Anything but `same`: what --exit-code reports.
  [[nodiscard]] bool any_difference() const noexcept { return same != messages; }
};

struct DiffReport {
  std::vector<MessageDiff> messages; ///< live time order (sandbox-only ones last)
  DiffSummary summary;
};

/// The fields in which `sandbox` differs from `live`, in DecisionField order.
/// A field absent on both sides (no article when both escalated) is the
/// same; the escalation reason counts only the agent's deciding escalation.
[[nodiscard]] std::vector<DecisionField> changed_fields(const Decision& live, const Decision& sandbox);

/// Pairs the decisions by inbound event id and compares each pair. A
/// sandbox decision whose outcome is `pending` makes the message
/// pending_in_sandbox rather than changed: the sandbox has not decided.
[[nodiscard]] DiffReport compare_decisions(std::vector<Decision> live, std::vector<Decision> sandbox);

/// "12 messages: 10 same, 2 changed (outcome 1, article 1, reply text 2), 0
/// only in live, 0 only in sandbox" (pending ones are named when there are).
[[nodiscard]] std::string summary_line(const DiffSummary& summary);

/// The report as JSON: {"messages": [...], "summary": {...}}; with
/// `changed_only`, the messages that are not the same.
[[nodiscard]] nlohmann::json to_json(const DiffReport& report, bool changed_only);

/// One line per message (correlation id, customer, channel, live -> sandbox
/// outcome, article, score, marker), what changed indented under it, then
/// the summary line.
void print_table(std::ostream& out, const DiffReport& report, bool changed_only);

} // namespace fte::cli
