#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/agent_rules/llm_rules.hpp"
#include "fte/common/circuit_breaker.hpp"
#include "fte/common/config.hpp"
#include "fte/openai/api.hpp"

namespace prometheus {
class Registry;
}

namespace fte::agent {

/// The LLM adapter's settings (FTE_LLM_*; README, ADR 0019). Off unless
/// FTE_LLM=openai.
struct LlmSettings {
  bool enabled = false;
  openai::ApiOptions api; ///< FTE_LLM_BASE_URL, FTE_LLM_API_KEY, FTE_LLM_TIMEOUT_MS, FTE_LLM_ATTEMPTS
  std::string model;      ///< FTE_LLM_MODEL
  /// FTE_LLM_MODE: json_schema, tools, or auto (nullopt: json_schema until
  /// the server refuses it, then tools).
  std::optional<LlmMode> mode;
  std::size_t concurrency = 256;    ///< FTE_LLM_CONCURRENCY: calls in flight per batch
  std::size_t context_articles = 3; ///< FTE_LLM_CONTEXT_ARTICLES
  PromptLimits limits;              ///< FTE_LLM_CONTEXT_TOKENS, FTE_LLM_MAX_TOKENS
  LlmRules rules;                   ///< FTE_LLM_MIN_SCORE, FTE_LLM_MIN_GROUNDING
  /// FTE_LLM_FALLBACK: when the model cannot be reached, decide from
  /// retrieval alone (`retrieval`, the default) or hand over (`escalate`).
  bool fallback_to_retrieval = true;
  std::size_t breaker_failures = 5;                   ///< FTE_LLM_BREAKER_FAILURES
  std::chrono::milliseconds breaker_cooldown{30'000}; ///< FTE_LLM_BREAKER_COOLDOWN_MS
  double usd_per_million_prompt = 0;                  ///< FTE_LLM_USD_PER_MTOK_PROMPT
  double usd_per_million_completion = 0;              ///< FTE_LLM_USD_PER_MTOK_COMPLETION

  /// @throws ConfigError
  static LlmSettings from_env(const Environment& env);
};

/// One message the model is asked about.
struct LlmQuestion {
  std::string_view text;
  const std::vector<std::pair<knowledge::Article, double>>* context;
};

/// What came of asking.
struct ModelCall {
  /// False: the model was not reached (circuit open, quota, timeouts after
  /// the retries); the caller falls back.
  bool reached = false;
  ModelAnswer answer;
  /// Stored with the decision (messages.agent_output): the model, the mode,
  /// what it returned, the usage, or the error.
  nlohmann::json record = nlohmann::json::object();
};

/// Asks an OpenAI-compatible chat completions API (OpenAI, vLLM, llama.cpp
/// server, Ollama) for an answer from the retrieved articles, many calls at
/// once; a circuit breaker stops calling a failing server. Thread-safe.
class LlmAgent {
public:
  LlmAgent(LlmSettings settings, const std::shared_ptr<prometheus::Registry>& registry);
  ~LlmAgent();
  LlmAgent(const LlmAgent&) = delete;
  LlmAgent& operator=(const LlmAgent&) = delete;

  /// One call per question, up to `concurrency` in flight; results in the
  /// questions' order.
  [[nodiscard]] std::vector<ModelCall> ask(const std::vector<LlmQuestion>& questions) const;

  /// The decision for one message with what came of asking (nullopt: not
  /// asked, retrieval offered nothing the model may answer from): the
  /// model's rule (decide_with_model) when it was reached; otherwise the
  /// fallback, retrieval's decision or a handover.
  [[nodiscard]] AgentDecision decide(std::optional<EscalationDecision> by_policy, std::string_view requested_priority,
                                     const knowledge::KnowledgeDecision& retrieval,
                                     const std::optional<ModelCall>& call) const;

  /// Whether retrieval offered an article the model may answer from (one
  /// scored at least FTE_LLM_MIN_SCORE): if not, the model is not asked.
  [[nodiscard]] bool worth_asking(const knowledge::KnowledgeDecision& retrieval) const noexcept;

  [[nodiscard]] const LlmSettings& settings() const noexcept { return settings_; }
  /// The mode in use (auto switches to tools once a server refuses json_schema).
  [[nodiscard]] LlmMode mode() const noexcept { return mode_.load(); }

private:
  ModelCall ask_one(const LlmQuestion& question) const;
  void count(const ModelCall& call, double seconds) const;

  LlmSettings settings_;
  knowledge::Analyzer analyzer_; ///< for grounding
  mutable openai::Api api_;
  mutable CircuitBreaker breaker_;
  mutable std::atomic<LlmMode> mode_;
  struct Metrics;
  std::unique_ptr<Metrics> metrics_; ///< null without a registry
};

} // namespace fte::agent
