#include "decision_diff.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "fte/common/text.hpp"

namespace fte::cli {
namespace {

constexpr std::array kAllFields = {DecisionField::outcome, DecisionField::article, DecisionField::score,
                                   DecisionField::reply_text, DecisionField::escalation_reason};

constexpr std::string_view kNone = "(none)";

std::optional<std::string> reply_text(const Decision& d) {
  return d.reply ? std::optional<std::string>(d.reply->body) : std::nullopt;
}

std::optional<std::string> escalation_reason(const Decision& d) {
  const auto* e = d.deciding_escalation();
  return e != nullptr ? std::optional<std::string>(e->reason) : std::nullopt;
}

bool scores_differ(std::optional<double> a, std::optional<double> b) {
  if (a.has_value() != b.has_value()) return true;
  return a && std::fabs(*a - *b) > kScoreTolerance;
}

std::string format_score(std::optional<double> score) {
  if (!score) return std::string(kNone);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", *score);
  return buffer;
}

std::string article_name(const Decision* d) {
  if (d == nullptr || !d->kb_article_id()) return std::string(kNone);
  const auto& article = d->reply->kb_article;
  return article ? article->slug : "#" + std::to_string(*d->kb_article_id());
}

std::string article_detail(const Decision& d) {
  if (!d.kb_article_id()) return std::string(kNone);
  const auto& article = d.reply->kb_article;
  if (!article) return "#" + std::to_string(*d.kb_article_id()) + " (no longer in the knowledge base)";
  return "#" + std::to_string(article->id) + " " + article->slug + " \"" + article->title + "\"";
}

std::string outcome_name(const Decision* d) {
  return d == nullptr ? std::string(kNone) : std::string(to_string(d->outcome));
}

// One line of text: newlines and tabs shown as escapes.
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Where two texts first differ, backed off to the start of a UTF-8 sequence.
std::size_t first_difference(std::string_view a, std::string_view b) {
  const auto limit = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < limit && a[i] == b[i])
    ++i;
  while (i > 0 && ((i < a.size() && is_continuation_byte(a[i])) || (i < b.size() && is_continuation_byte(b[i]))))
    --i;
  return i;
}

// Replies are paragraphs that often share a long beginning: show each side
// from a little before the first difference, not two identical prefixes.
std::string excerpt(std::string_view text, std::size_t from) {
  constexpr std::size_t kBefore = 20, kChars = 60;
  std::size_t start = from > kBefore ? from - kBefore : 0;
  while (start > 0 && start < text.size() && is_continuation_byte(text[start]))
    --start;
  const auto rest = text.substr(start);
  auto shown = truncate_utf8(rest, kChars);
  const bool cut = shown.size() < rest.size();
  return "\"" + std::string(start > 0 ? "..." : "") + one_line(shown) + (cut ? "..." : "") + "\"";
}

std::string reply_text_detail(const Decision* live, const Decision* sandbox) {
  const auto a = live != nullptr ? reply_text(*live) : std::nullopt;
  const auto b = sandbox != nullptr ? reply_text(*sandbox) : std::nullopt;
  if (a && b) {
    const auto at = first_difference(*a, *b);
    const auto characters_before = static_cast<std::size_t>(std::count_if(
        a->begin(), a->begin() + static_cast<std::ptrdiff_t>(at), [](char c) { return !is_continuation_byte(c); }));
    return "differs from character " + std::to_string(characters_before + 1) + ": " + excerpt(*a, at) + " -> " +
           excerpt(*b, at);
  }
  return (a ? excerpt(*a, 0) : std::string(kNone)) + " -> " + (b ? excerpt(*b, 0) : std::string(kNone));
}

std::string escalation_detail(const Decision* d) {
  const auto* e = d != nullptr ? d->deciding_escalation() : nullptr;
  if (e == nullptr) {
    return d != nullptr && d->outcome == Outcome::escalated ? "(not recorded yet)" : std::string(kNone);
  }
  std::string out = e->reason;
  if (e->reason_detail && !e->reason_detail->empty()) {
    out += " (" + one_line(truncate_utf8(*e->reason_detail, 80)) + ")";
  }
  return out;
}

std::string field_detail(DecisionField field, const MessageDiff& m) {
  const Decision* live = m.live ? &*m.live : nullptr;
  const Decision* sandbox = m.sandbox ? &*m.sandbox : nullptr;
  switch (field) {
  case DecisionField::outcome: return outcome_name(live) + " -> " + outcome_name(sandbox);
  case DecisionField::article:
    return (live != nullptr ? article_detail(*live) : std::string(kNone)) + " -> " +
           (sandbox != nullptr ? article_detail(*sandbox) : std::string(kNone));
  case DecisionField::score:
    return format_score(live != nullptr ? live->kb_score() : std::nullopt) + " -> " +
           format_score(sandbox != nullptr ? sandbox->kb_score() : std::nullopt);
  case DecisionField::reply_text: return reply_text_detail(live, sandbox);
  case DecisionField::escalation_reason: return escalation_detail(live) + " -> " + escalation_detail(sandbox);
  }
  return {};
}

// "a" when both sides agree, "a -> b" when they do not.
std::string either(const std::string& live, const std::string& sandbox, bool differ) {
  return differ ? live + " -> " + sandbox : live;
}

std::string_view marker(DiffStatus status) {
  switch (status) {
  case DiffStatus::same: return "same";
  case DiffStatus::changed: return "CHANGED";
  case DiffStatus::pending_in_sandbox: return "PENDING";
  case DiffStatus::only_in_live: return "ONLY LIVE";
  case DiffStatus::only_in_sandbox: return "ONLY SANDBOX";
  }
  return "";
}

bool shown(const MessageDiff& m, bool changed_only) { return !changed_only || m.status != DiffStatus::same; }

} // namespace

std::string_view to_string(DecisionField field) noexcept {
  switch (field) {
  case DecisionField::outcome: return "outcome";
  case DecisionField::article: return "article";
  case DecisionField::score: return "score";
  case DecisionField::reply_text: return "reply_text";
  case DecisionField::escalation_reason: return "escalation_reason";
  }
  return "";
}

std::string_view label(DecisionField field) noexcept {
  switch (field) {
  case DecisionField::reply_text: return "reply text";
  case DecisionField::escalation_reason: return "escalation reason";
  default: return to_string(field);
  }
}

std::string_view to_string(DiffStatus status) noexcept {
  switch (status) {
  case DiffStatus::same: return "same";
  case DiffStatus::changed: return "changed";
  case DiffStatus::pending_in_sandbox: return "pending_in_sandbox";
  case DiffStatus::only_in_live: return "only_in_live";
  case DiffStatus::only_in_sandbox: return "only_in_sandbox";
  }
  return "";
}

std::vector<DecisionField> changed_fields(const Decision& live, const Decision& sandbox) {
  std::vector<DecisionField> changed;
  for (const auto field : kAllFields) {
    bool differs = false;
    switch (field) {
    case DecisionField::outcome: differs = live.outcome != sandbox.outcome; break;
    case DecisionField::article: differs = live.kb_article_id() != sandbox.kb_article_id(); break;
    case DecisionField::score: differs = scores_differ(live.kb_score(), sandbox.kb_score()); break;
    case DecisionField::reply_text: differs = reply_text(live) != reply_text(sandbox); break;
    case DecisionField::escalation_reason: differs = escalation_reason(live) != escalation_reason(sandbox); break;
    }
    if (differs) changed.push_back(field);
  }
  return changed;
}

DiffReport compare_decisions(std::vector<Decision> live, std::vector<Decision> sandbox) {
  std::map<std::string, MessageDiff> by_event;
  const auto entry = [&](const Decision& d) -> MessageDiff& {
    auto& m = by_event[d.inbound.source_event_id];
    if (m.source_event_id.empty()) {
      m.source_event_id = d.inbound.source_event_id;
      m.correlation_id = d.inbound.correlation_id;
      m.customer_id = d.inbound.customer_id;
      m.channel = d.inbound.channel;
    }
    return m;
  };
  for (auto& d : live) {
    auto& m = entry(d);
    if (!m.live) m.live = std::move(d);
  }
  for (auto& d : sandbox) {
    auto& m = entry(d);
    if (!m.sandbox) m.sandbox = std::move(d);
  }

  DiffReport report;
  for (auto& [id, m] : by_event) {
    if (!m.sandbox) {
      m.status = DiffStatus::only_in_live;
    } else if (!m.live) {
      m.status = DiffStatus::only_in_sandbox;
    } else if (m.sandbox->outcome == Outcome::pending) {
      m.status = DiffStatus::pending_in_sandbox;
    } else {
      m.changed = changed_fields(*m.live, *m.sandbox);
      m.status = m.changed.empty() ? DiffStatus::same : DiffStatus::changed;
    }
    auto& s = report.summary;
    ++s.messages;
    switch (m.status) {
    case DiffStatus::same: ++s.same; break;
    case DiffStatus::changed:
      ++s.changed;
      for (const auto field : m.changed)
        ++s.changed_fields[field];
      break;
    case DiffStatus::pending_in_sandbox: ++s.pending_in_sandbox; break;
    case DiffStatus::only_in_live: ++s.only_in_live; break;
    case DiffStatus::only_in_sandbox: ++s.only_in_sandbox; break;
    }
    report.messages.push_back(std::move(m));
  }
  // The live run's order; messages the live database never stored come
  // last, in the order the sandbox stored them.
  std::sort(report.messages.begin(), report.messages.end(), [](const MessageDiff& a, const MessageDiff& b) {
    const auto key = [](const MessageDiff& m) {
      return std::make_tuple(!m.live.has_value(), m.live ? m.live->inbound.stored_at : m.sandbox->inbound.stored_at,
                             m.source_event_id);
    };
    return key(a) < key(b);
  });
  return report;
}

std::string summary_line(const DiffSummary& s) {
  std::string out = std::to_string(s.messages) + (s.messages == 1 ? " message: " : " messages: ") +
                    std::to_string(s.same) + " same, " + std::to_string(s.changed) + " changed";
  if (!s.changed_fields.empty()) {
    std::string fields;
    for (const auto& [field, count] : s.changed_fields) {
      fields += (fields.empty() ? "" : ", ") + std::string(label(field)) + " " + std::to_string(count);
    }
    out += " (" + fields + ")";
  }
  if (s.pending_in_sandbox > 0) {
    out += ", " + std::to_string(s.pending_in_sandbox) + " pending in the sandbox (its replay did not finish)";
  }
  out += ", " + std::to_string(s.only_in_live) + " only in live, " + std::to_string(s.only_in_sandbox) +
         " only in sandbox";
  return out;
}

nlohmann::json to_json(const DiffReport& report, bool changed_only) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : report.messages) {
    if (!shown(m, changed_only)) continue;
    nlohmann::json changed = nlohmann::json::array();
    for (const auto field : m.changed)
      changed.push_back(to_string(field));
    nlohmann::json entry = {{"correlation_id", m.correlation_id},
                            {"source_event_id", m.source_event_id},
                            {"customer_id", m.customer_id},
                            {"channel", m.channel},
                            {"status", to_string(m.status)},
                            {"changed", std::move(changed)},
                            {"live", m.live ? to_json(*m.live) : nlohmann::json(nullptr)},
                            {"sandbox", m.sandbox ? to_json(*m.sandbox) : nlohmann::json(nullptr)}};
    if (!m.sandbox_note.empty()) entry["sandbox_note"] = m.sandbox_note;
    messages.push_back(std::move(entry));
  }
  const auto& s = report.summary;
  nlohmann::json fields = nlohmann::json::object();
  for (const auto field : kAllFields) {
    const auto it = s.changed_fields.find(field);
    fields[std::string(to_string(field))] = it == s.changed_fields.end() ? 0 : it->second;
  }
  return {{"messages", std::move(messages)},
          {"summary",
           {{"messages", s.messages},
            {"same", s.same},
            {"changed", s.changed},
            {"pending_in_sandbox", s.pending_in_sandbox},
            {"only_in_live", s.only_in_live},
            {"only_in_sandbox", s.only_in_sandbox},
            {"changed_fields", std::move(fields)},
            {"text", summary_line(s)}}}};
}

void print_table(std::ostream& out, const DiffReport& report, bool changed_only) {
  using Row = std::array<std::string, 7>;
  std::vector<std::pair<Row, const MessageDiff*>> rows;
  const Row header = {"CORRELATION ID", "CUSTOMER", "CHANNEL", "LIVE -> SANDBOX", "ARTICLE", "SCORE", ""};
  for (const auto& m : report.messages) {
    if (!shown(m, changed_only)) continue;
    const Decision* live = m.live ? &*m.live : nullptr;
    const Decision* sandbox = m.sandbox ? &*m.sandbox : nullptr;
    const bool both = live != nullptr && sandbox != nullptr;
    const auto live_score = format_score(live != nullptr ? live->kb_score() : std::nullopt);
    const auto sandbox_score = format_score(sandbox != nullptr ? sandbox->kb_score() : std::nullopt);
    const auto live_article = article_name(live);
    const auto sandbox_article = article_name(sandbox);
    rows.push_back(
        {Row{m.correlation_id.empty() ? std::string("-") : m.correlation_id, m.customer_id, m.channel,
             outcome_name(live) + " -> " + outcome_name(sandbox),
             either(live_article, sandbox_article, !both || live_article != sandbox_article),
             either(live_score, sandbox_score, !both || live_score != sandbox_score), std::string(marker(m.status))},
         &m});
  }
  std::array<std::size_t, 7> width{};
  for (std::size_t i = 0; i < width.size(); ++i)
    width[i] = header[i].size();
  for (const auto& [row, m] : rows) {
    for (std::size_t i = 0; i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  const auto print_row = [&](const Row& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out << line << "\n";
  };
  if (!rows.empty()) print_row(header);
  for (const auto& [row, m] : rows) {
    print_row(row);
    for (const auto field : m->changed)
      out << "    " << label(field) << ": " << field_detail(field, *m) << "\n";
    switch (m->status) {
    case DiffStatus::pending_in_sandbox:
      out << "    the sandbox has not decided this message"
          << (m->sandbox_note.empty() ? std::string(" (its replay did not finish)") : ": " + m->sandbox_note) << "\n";
      break;
    case DiffStatus::only_in_live: out << "    not in the sandbox\n"; break;
    case DiffStatus::only_in_sandbox:
      out << "    not in the live database (the live run never stored it, or it was deleted since)\n";
      break;
    default: break;
    }
  }
  if (changed_only && rows.empty() && report.summary.messages > 0) out << "no message changed\n";
  out << summary_line(report.summary) << "\n";
}

} // namespace fte::cli
