#include "fte/agent_rules/escalation_policy.hpp"

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

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (c >= 'A' && c <= 'Z');
}

// The text's words, lower-cased: runs of ASCII letters, digits and '_' —
// what a regular expression's \b separates.
std::vector<std::string_view> words_of(std::string_view lowered) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < lowered.size()) {
    while (i < lowered.size() && !is_word_char(lowered[i]))
      ++i;
    const std::size_t start = i;
    while (i < lowered.size() && is_word_char(lowered[i]))
      ++i;
    if (i > start) words.push_back(lowered.substr(start, i - start));
  }
  return words;
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

void EscalationPolicy::add_rule(std::string reason, std::string priority,
                                std::initializer_list<std::string_view> phrases) {
  const std::size_t rule = rules_.size();
  rules_.push_back({std::move(reason), std::move(priority)});
  for (const auto phrase : phrases) {
    const std::string lowered = lower_ascii(phrase);
    std::vector<std::string> words;
    for (const auto w : words_of(lowered))
      words.emplace_back(w);
    by_first_word_[words.front()].push_back(Phrase{words, rule, std::string(phrase)});
  }
}

EscalationPolicy::EscalationPolicy() {
  // Order matters: the most serious reason wins when several match.
  add_rule("legal", "urgent",
           {"lawyer", "lawyers", "attorney", "solicitor", "legal action", "lawsuit", "sue", "suing", "court",
            "legal department"});
  add_rule("refund", "high",
           {"refund", "refunds", "refunded", "money back", "chargeback", "reimburse", "reimbursement"});
  add_rule("cancellation", "high",
           {"cancel", "cancels", "cancelling", "canceling", "cancellation", "terminate my", "close my account",
            "delete my account"});
  add_rule("human_requested", "normal",
           {"human", "real person", "a person", "an agent", "representative", "speak to someone", "talk to someone",
            "speak with someone", "talk to a", "speak to a", "call me", "manager", "supervisor"});
}

std::optional<EscalationDecision> EscalationPolicy::evaluate(std::string_view text,
                                                             std::string_view requested_priority) const {
  const std::string lowered = lower_ascii(text);
  const auto words = words_of(lowered);
  const Phrase* best = nullptr;
  for (std::size_t i = 0; i < words.size() && (best == nullptr || best->rule > 0); ++i) {
    const auto candidates = by_first_word_.find(std::string(words[i]));
    if (candidates == by_first_word_.end()) continue;
    for (const auto& phrase : candidates->second) {
      if (best != nullptr && phrase.rule >= best->rule) continue;
      if (i + phrase.words.size() > words.size()) continue;
      bool match = true;
      for (std::size_t k = 1; k < phrase.words.size() && match; ++k)
        match = words[i + k] == phrase.words[k];
      if (match) best = &phrase;
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  const auto& rule = rules_[best->rule];
  return EscalationDecision{rule.reason, "matched \"" + best->text + "\"",
                            max_priority(rule.priority, requested_priority)};
}

} // namespace fte::agent
