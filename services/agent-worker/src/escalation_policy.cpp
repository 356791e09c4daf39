#include "escalation_policy.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace fte::agent {
namespace {

int rank(std::string_view priority) {
  static constexpr std::array<std::string_view, 4> kOrder = {"low", "normal", "high", "urgent"};
  const auto it = std::find(kOrder.begin(), kOrder.end(), priority);
  return it == kOrder.end() ? 1 : static_cast<int>(it - kOrder.begin());
}

// Case-sensitive patterns over lower-cased text: libstdc++'s std::regex::icase
// runs a locale transform per character and state, which made these four
// searches most of agent-worker's CPU time per message.
std::regex words(const char* alternatives) {
  return std::regex(std::string("\\b(") + alternatives + ")\\b", std::regex::ECMAScript | std::regex::optimize);
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

} // namespace

std::string max_priority(std::string_view a, std::string_view b) {
  static constexpr std::array<std::string_view, 4> kOrder = {"low", "normal", "high", "urgent"};
  return std::string(kOrder[static_cast<std::size_t>(std::max(rank(a), rank(b)))]);
}

EscalationPolicy::EscalationPolicy() {
  // Order matters: the most serious reason wins when several match.
  rules_.push_back({"legal", "urgent",
                    words("lawyer|lawyers|attorney|solicitor|legal action|lawsuit|sue|suing|court|legal department")});
  rules_.push_back({"refund", "high", words("refund|refunds|refunded|money back|chargeback|reimburse|reimbursement")});
  rules_.push_back({"cancellation", "high",
                    words("cancel|cancels|cancelling|canceling|cancellation|terminate my|close my account|"
                          "delete my account")});
  rules_.push_back({"human_requested", "normal",
                    words("human|real person|a person|an agent|representative|speak to someone|talk to someone|"
                          "speak with someone|talk to a|speak to a|call me|manager|supervisor")});
}

std::optional<EscalationDecision> EscalationPolicy::evaluate(std::string_view text,
                                                             std::string_view requested_priority) const {
  const std::string subject = lower_ascii(text);
  for (const auto& rule : rules_) {
    std::smatch match;
    if (std::regex_search(subject, match, rule.pattern)) {
      return EscalationDecision{rule.reason, "matched \"" + match.str(0) + "\"",
                                max_priority(rule.priority, requested_priority)};
    }
  }
  return std::nullopt;
}

EscalationDecision EscalationPolicy::low_confidence(double best_score, std::string_view requested_priority) {
  return EscalationDecision{"low_confidence",
                            best_score > 0 ? "best knowledge-base score " + std::to_string(best_score).substr(0, 5) +
                                                 " is below the threshold"
                                           : "no knowledge-base article matches",
                            max_priority("normal", requested_priority)};
}

std::string truncate_utf8(std::string_view text, std::size_t max_chars) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t width = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (i + width > text.size()) break;
    i += width;
    ++chars;
  }
  return std::string(text.substr(0, i));
}

} // namespace fte::agent
