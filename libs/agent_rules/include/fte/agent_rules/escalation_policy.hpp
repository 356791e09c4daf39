#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fte/common/text.hpp"

namespace fte::agent {

/// Why a message goes to a person, in proto/'s reason vocabulary.
struct EscalationDecision {
  std::string reason;   ///< human_requested, refund, cancellation, legal, low_confidence
  std::string detail;   ///< what triggered it, for the person who picks it up
  std::string priority; ///< low, normal, high, urgent
};

/// The rules that hand a message to a person whatever the knowledge base
/// says: the customer asks for a person, or mentions a refund, a cancellation
/// or legal action. Matching is on whole words and phrases, ASCII
/// case-insensitive, in one linear scan of the text's words (no regular
/// expression: four std::regex searches were most of agent-worker's CPU).
class EscalationPolicy {
public:
  EscalationPolicy();

  /// The first rule that matches, or nullopt. `requested_priority` (from the
  /// form) can raise the rule's priority, never lower it.
  [[nodiscard]] std::optional<EscalationDecision> evaluate(std::string_view text,
                                                           std::string_view requested_priority) const;

private:
  struct Rule {
    std::string reason;
    std::string priority;
  };
  struct Phrase {
    std::vector<std::string> words; ///< all of the phrase, first word included
    std::size_t rule;               ///< index into rules_: lower is more serious
    std::string text;
  };
  void add_rule(std::string reason, std::string priority, std::initializer_list<std::string_view> phrases);

  std::vector<Rule> rules_;
  std::unordered_map<std::string, std::vector<Phrase>> by_first_word_;
};

/// The higher of two priorities (unknown strings count as normal).
[[nodiscard]] std::string max_priority(std::string_view a, std::string_view b);

using fte::truncate_utf8; // the one in fte/common/text.hpp

} // namespace fte::agent
