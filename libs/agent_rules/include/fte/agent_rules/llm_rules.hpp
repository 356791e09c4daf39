#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/agent_rules/decision.hpp"
#include "fte/agent_rules/model_answer.hpp"
#include "fte/knowledge/analyzer.hpp"

namespace fte::agent {

struct PromptLimits {
  long context_tokens = 2048;       ///< the server's context window (Ollama's default num_ctx is 2048)
  long answer_tokens = 400;         ///< max_tokens of the answer, kept free in the window
  std::size_t article_chars = 2000; ///< an article's body is cut to this many characters
};

/// One chat request: the constant instructions, the retrieved articles
/// (each marked `[article: slug]`), and the customer's text as a separate
/// user message, fenced and labelled as data. Customer text only ever goes
/// into that user message, JSON-encoded, so nothing in it can become an
/// instruction, an article or another role's message. Articles that do not
/// fit the window (best first) are left out.
struct ChatPrompt {
  nlohmann::json body;              ///< the /chat/completions request
  long estimated_prompt_tokens = 0; ///< of the messages sent
  std::vector<std::string> offered; ///< slugs of the articles shown, best first
};
[[nodiscard]] ChatPrompt chat_prompt(std::string_view model, std::string_view customer_text,
                                     const std::vector<std::pair<knowledge::Article, double>>& context, LlmMode mode,
                                     const PromptLimits& limits);

/// The instructions, the same for every message (a test holds them constant
/// whatever the customer writes).
[[nodiscard]] std::string_view llm_instructions() noexcept;

struct LlmRules {
  /// The cited article's retrieval P(right) must reach this: the model may
  /// answer what retrieval was unsure of, not what it found unlikely.
  double min_score = 0.2;
  /// Share of the answer's distinct terms (stemmed, stop words dropped)
  /// that must come from the cited articles: an answer that says what the
  /// articles do not is not sent.
  double min_grounding = 0.5;
};

/// The agent's rule with a model (ADR 0019): the policy's handovers first;
/// then the model's answer stands only when it cites retrieved articles,
/// the first of them scored at least `min_score` by retrieval, retrieval is
/// not confident of another article, and the answer is grounded in what it
/// cites. Anything else is a low_confidence handover naming why. The
/// answered decision carries the model's text in `reply_text` and the
/// cited article as its knowledge.
[[nodiscard]] AgentDecision decide_with_model(std::optional<EscalationDecision> by_policy,
                                              std::string_view requested_priority,
                                              const knowledge::KnowledgeDecision& retrieval, const ModelAnswer& answer,
                                              const LlmRules& rules, const knowledge::Analyzer& analyzer);

/// Share of `answer`'s terms found in `sources`' terms (1 for an answer
/// without terms).
[[nodiscard]] double grounding(std::string_view answer, const std::vector<std::string_view>& sources,
                               const knowledge::Analyzer& analyzer);

} // namespace fte::agent
