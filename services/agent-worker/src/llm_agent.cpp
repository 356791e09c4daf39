#include "llm_agent.hpp"

#include <algorithm>
#include <thread>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace fte::agent {

LlmSettings LlmSettings::from_env(const Environment& env) {
  LlmSettings s;
  const auto kind = env.get_or("FTE_LLM", "off");
  if (kind == "off") return s;
  if (kind != "openai") throw ConfigError("FTE_LLM", "must be off or openai, not '" + kind + "'");
  s.enabled = true;
  s.api.base_url = env.require("FTE_LLM_BASE_URL");
  s.api.api_key = env.get_or("FTE_LLM_API_KEY", "");
  // Two attempts of ten seconds at most stay within the consumer's shutdown
  // time (FTE_SHUTDOWN_TIMEOUT_MS, 25 s): a rebalance does not wait out a
  // model that stopped answering.
  s.api.timeout = env.get_millis("FTE_LLM_TIMEOUT_MS", std::chrono::milliseconds(10'000),
                                 std::chrono::milliseconds(100), std::chrono::milliseconds(300'000));
  s.api.attempts = static_cast<int>(env.get_int("FTE_LLM_ATTEMPTS", 2, 1, 10));
  // A batch waits for its slowest call: a long Retry-After is better met by
  // the fallback than by holding every message of the batch.
  s.api.longest_wait = std::chrono::milliseconds(2'000);
  s.model = env.require("FTE_LLM_MODEL");
  const auto mode = env.get_or("FTE_LLM_MODE", "auto");
  if (mode == "json_schema") {
    s.mode = LlmMode::json_schema;
  } else if (mode == "tools") {
    s.mode = LlmMode::tools;
  } else if (mode != "auto") {
    throw ConfigError("FTE_LLM_MODE", "must be auto, json_schema or tools, not '" + mode + "'");
  }
  s.concurrency = static_cast<std::size_t>(env.get_int("FTE_LLM_CONCURRENCY", 256, 1, 4096));
  s.context_articles = static_cast<std::size_t>(env.get_int("FTE_LLM_CONTEXT_ARTICLES", 3, 1, 10));
  s.limits.context_tokens = env.get_int("FTE_LLM_CONTEXT_TOKENS", 2048, 256, 1'000'000);
  s.limits.answer_tokens = env.get_int("FTE_LLM_MAX_TOKENS", 400, 16, 16'384);
  if (s.limits.answer_tokens >= s.limits.context_tokens)
    throw ConfigError("FTE_LLM_MAX_TOKENS", "must be below FTE_LLM_CONTEXT_TOKENS");
  s.rules.min_score = env.get_double("FTE_LLM_MIN_SCORE", 0.2, 0.0, 1.0);
  s.rules.min_grounding = env.get_double("FTE_LLM_MIN_GROUNDING", 0.5, 0.0, 1.0);
  const auto fallback = env.get_or("FTE_LLM_FALLBACK", "retrieval");
  if (fallback != "retrieval" && fallback != "escalate")
    throw ConfigError("FTE_LLM_FALLBACK", "must be retrieval or escalate, not '" + fallback + "'");
  s.fallback_to_retrieval = fallback == "retrieval";
  s.breaker_failures = static_cast<std::size_t>(env.get_int("FTE_LLM_BREAKER_FAILURES", 5, 1, 1000));
  s.breaker_cooldown = env.get_millis("FTE_LLM_BREAKER_COOLDOWN_MS", std::chrono::milliseconds(30'000),
                                      std::chrono::milliseconds(100), std::chrono::milliseconds(3'600'000));
  s.usd_per_million_prompt = env.get_double("FTE_LLM_USD_PER_MTOK_PROMPT", 0, 0, 1e6);
  s.usd_per_million_completion = env.get_double("FTE_LLM_USD_PER_MTOK_COMPLETION", 0, 0, 1e6);
  return s;
}

// Labels come from fixed vocabularies (the outcomes, the token kinds).
struct LlmAgent::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : calls(prometheus::BuildCounter()
                  .Name("fte_llm_calls_total")
                  .Help("Model calls by outcome: answer, handoff, invalid, truncated (the model's), error (not "
                        "reached after the retries), circuit_open (not attempted)")
                  .Register(registry)),
        tokens(prometheus::BuildCounter()
                   .Name("fte_llm_tokens_total")
                   .Help("Tokens the model reported, by kind (prompt, completion)")
                   .Register(registry)),
        cost(prometheus::BuildCounter()
                 .Name("fte_llm_cost_usd_total")
                 .Help("What the reported tokens cost at FTE_LLM_USD_PER_MTOK_PROMPT and _COMPLETION")
                 .Register(registry)
                 .Add({})),
        circuit(prometheus::BuildGauge()
                    .Name("fte_llm_circuit_open")
                    .Help("1 while the circuit breaker refuses model calls")
                    .Register(registry)
                    .Add({})),
        latency(prometheus::BuildHistogram()
                    .Name("fte_llm_call_seconds")
                    .Help("A model call's time, retries included")
                    .Register(registry)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32})),
        prompt_tokens(tokens.Add({{"kind", "prompt"}})), completion_tokens(tokens.Add({{"kind", "completion"}})) {}

  prometheus::Family<prometheus::Counter>& calls;
  prometheus::Family<prometheus::Counter>& tokens;
  prometheus::Counter& cost;
  prometheus::Gauge& circuit;
  prometheus::Histogram& latency;
  prometheus::Counter& prompt_tokens;
  prometheus::Counter& completion_tokens;
};

LlmAgent::LlmAgent(LlmSettings settings, const std::shared_ptr<prometheus::Registry>& registry)
    : settings_(std::move(settings)), api_(settings_.api),
      breaker_(settings_.breaker_failures, settings_.breaker_cooldown),
      mode_(settings_.mode.value_or(LlmMode::json_schema)) {
  if (registry) metrics_ = std::make_unique<Metrics>(*registry);
}

LlmAgent::~LlmAgent() = default;

std::vector<ModelCall> LlmAgent::ask(const std::vector<LlmQuestion>& questions) const {
  std::vector<ModelCall> out(questions.size());
  if (questions.empty()) return out;
  // A thread a call in flight: each waits on its server, not on the CPU,
  // and borrows its own connection from the Api's pool. The results land
  // in the questions' order, so the caller decides in offset order and a
  // customer's messages keep theirs.
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (auto i = next++; i < questions.size(); i = next++) {
      const auto started = std::chrono::steady_clock::now();
      out[i] = ask_one(questions[i]);
      count(out[i], std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  };
  const auto lanes = std::min(questions.size(), std::max<std::size_t>(1, settings_.concurrency));
  std::vector<std::jthread> threads;
  threads.reserve(lanes - 1);
  for (std::size_t t = 1; t < lanes; ++t)
    threads.emplace_back(work);
  work();
  threads.clear(); // joins
  if (metrics_) metrics_->circuit.Set(breaker_.is_open() ? 1 : 0);
  return out;
}

ModelCall LlmAgent::ask_one(const LlmQuestion& question) const {
  ModelCall call;
  auto& record = call.record;
  record["model"] = settings_.model;
  if (!breaker_.allow(CircuitBreaker::Clock::now())) {
    record["error"] = "circuit open: the model failed repeatedly; not called";
    record["outcome"] = "circuit_open";
    return call;
  }
  // At most twice: once more in tools mode when the server refuses
  // json_schema (auto mode only).
  for (int round = 0; round < 2; ++round) {
    const auto mode = mode_.load();
    const auto prompt = chat_prompt(settings_.model, question.text, *question.context, mode, settings_.limits);
    record["mode"] = mode_name(mode);
    record["offered"] = prompt.offered;
    try {
      const auto reply = openai::parse_chat_completion(api_.post("/chat/completions", prompt.body));
      breaker_.record_success();
      call.reached = true;
      call.answer = read_model_answer(reply, mode, prompt.estimated_prompt_tokens);
      record["outcome"] = kind_name(call.answer.kind);
      record["answer"] = call.answer.text;
      record["citations"] = call.answer.citations;
      if (!call.answer.reason.empty()) record["reason"] = call.answer.reason;
      record["finish_reason"] = reply.finish_reason;
      record["usage"] = {{"prompt_tokens", reply.usage.prompt_tokens},
                         {"completion_tokens", reply.usage.completion_tokens},
                         {"estimated_prompt_tokens", prompt.estimated_prompt_tokens}};
      if (metrics_) {
        metrics_->prompt_tokens.Increment(static_cast<double>(reply.usage.prompt_tokens));
        metrics_->completion_tokens.Increment(static_cast<double>(reply.usage.completion_tokens));
        metrics_->cost.Increment(
            (static_cast<double>(reply.usage.prompt_tokens) * settings_.usd_per_million_prompt +
             static_cast<double>(reply.usage.completion_tokens) * settings_.usd_per_million_completion) /
            1e6);
      }
      return call;
    } catch (const openai::ApiError& e) {
      if (!settings_.mode && mode == LlmMode::json_schema && e.kind() == openai::FailureKind::refused &&
          openai::refuses_json_schema(e.status(), e.error())) {
        mode_.store(LlmMode::tools); // this server does tools, not json_schema: from now on
        continue;
      }
      // A request this server refuses (bad key, a model it lacks) fails
      // every call alike: it counts against the breaker as an outage does.
      breaker_.record_failure(CircuitBreaker::Clock::now());
      record["error"] = e.what();
      record["outcome"] = "error";
      return call;
    } catch (const openai::MalformedReply& e) {
      breaker_.record_failure(CircuitBreaker::Clock::now());
      record["error"] = e.what();
      record["outcome"] = "error";
      return call;
    }
  }
  record["error"] = "the server refused both json_schema and tools";
  record["outcome"] = "error";
  return call;
}

bool LlmAgent::worth_asking(const knowledge::KnowledgeDecision& retrieval) const noexcept {
  return std::any_of(retrieval.context.begin(), retrieval.context.end(),
                     [&](const auto& c) { return c.second >= settings_.rules.min_score; });
}

AgentDecision LlmAgent::decide(std::optional<EscalationDecision> by_policy, std::string_view requested_priority,
                               const knowledge::KnowledgeDecision& retrieval,
                               const std::optional<ModelCall>& call) const {
  if (by_policy || !call) return agent::decide(std::move(by_policy), requested_priority, retrieval);
  if (call->reached) {
    // The model may cite only what it was shown: the articles that fit the
    // prompt, not every one retrieval returned.
    knowledge::KnowledgeDecision shown = retrieval;
    const auto offered = call->record.value("offered", nlohmann::json::array());
    std::erase_if(shown.context, [&](const auto& c) {
      return std::find(offered.begin(), offered.end(), c.first.slug) == offered.end();
    });
    return decide_with_model(std::nullopt, requested_priority, shown, call->answer, settings_.rules, analyzer_);
  }
  if (settings_.fallback_to_retrieval) return agent::decide(std::nullopt, requested_priority, retrieval);
  AgentDecision decision;
  decision.knowledge = retrieval;
  decision.escalation = EscalationDecision{
      "other", "the language model could not be reached: " + call->record.value("error", std::string("unknown")),
      max_priority("normal", requested_priority)};
  return decision;
}

void LlmAgent::count(const ModelCall& call, double seconds) const {
  if (!metrics_) return;
  metrics_->calls.Add({{"outcome", call.record.value("outcome", std::string("error"))}}).Increment();
  if (call.record.value("outcome", std::string()) != "circuit_open") metrics_->latency.Observe(seconds);
}

} // namespace fte::agent
