#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fte/openai/wire.hpp"

// What a language model answered, read from its reply: outside input, so
// apart from the rest of the agent's rules (the fuzz target links only this
// and openai_wire).
namespace fte::agent {

/// How the model is asked for its structured answer. `json_schema`
/// (OpenAI, vLLM, Ollama >= 0.5): `response_format` with a strict schema.
/// `tools` (llama.cpp server without JSON-schema support, and any server
/// that refuses json_schema): two functions, `answer(answer, citations)` and
/// `handoff(reason)`, with `tool_choice: required`. ADR 0019.
enum class LlmMode { json_schema, tools };
[[nodiscard]] const char* mode_name(LlmMode mode) noexcept;

/// Rough tokens of English text (1.3 a word, BPE's rule of thumb): what the
/// prompt is budgeted by, and what a server's reported prompt_tokens is
/// compared with to see it was not cut (Ollama truncates silently).
[[nodiscard]] long estimate_tokens(std::string_view text) noexcept;

/// What the model said, read from its reply.
struct ModelAnswer {
  enum class Kind {
    answer,    ///< an answer with its citations
    handoff,   ///< the model handed over (the handoff tool, or handoff: true)
    invalid,   ///< unreadable: not the schema, cut at max_tokens, refused
    truncated, ///< the server cut the prompt (reported prompt_tokens far below the estimate)
  };
  Kind kind = Kind::invalid;
  std::string text;                   ///< the answer
  std::vector<std::string> citations; ///< article slugs
  std::string reason;                 ///< handoff's reason, or why it is invalid
};
[[nodiscard]] const char* kind_name(ModelAnswer::Kind kind) noexcept;
[[nodiscard]] ModelAnswer read_model_answer(const openai::ChatReply& reply, LlmMode mode, long estimated_prompt_tokens);

} // namespace fte::agent
