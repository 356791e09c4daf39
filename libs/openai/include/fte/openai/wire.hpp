#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace fte::openai {

/// What an error answer says, whichever server sent it. The shapes differ:
/// OpenAI (and Ollama's /v1) `{"error":{"message","type","param","code"}}`
/// with a string code; vLLM `{"object":"error","message","type","code":400}`
/// and `{"error":"Unauthorized"}` from its key check; llama.cpp server
/// `{"error":{"code":400,"message","type"}}` with a numeric code.
struct ProviderError {
  std::string code;    ///< a string code when one is given ("insufficient_quota", "rate_limit_exceeded")
  std::string type;    ///< "invalid_request_error", "insufficient_quota", "BadRequestError", ...
  std::string message; ///< the server's words, or the body's start when it is not JSON
};
[[nodiscard]] ProviderError provider_error_of(std::string_view body);

/// A spent quota (429 `insufficient_quota`): retrying cannot help until
/// someone pays, so it is never retried.
[[nodiscard]] bool is_quota_exhausted(const ProviderError& error) noexcept;

/// A 400 that refuses `response_format: json_schema` (llama.cpp server
/// before its JSON-schema support, older Ollama and vLLM builds): the
/// caller can ask again with tool calls.
[[nodiscard]] bool refuses_json_schema(long status, const ProviderError& error) noexcept;

/// A reply that is not the shape the API promises (cut off by a proxy,
/// not JSON, no choices).
class MalformedReply : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Usage {
  long prompt_tokens = 0;
  long completion_tokens = 0;
};

struct ToolCall {
  std::string name;
  std::string arguments; ///< JSON text, as the model wrote it (it may not be JSON)
};

/// The first choice of a `chat.completion`.
struct ChatReply {
  std::string content; ///< empty when the model only called a tool
  std::vector<ToolCall> tool_calls;
  std::string refusal;       ///< OpenAI's structured-output refusal, when given
  std::string finish_reason; ///< "stop", "length", "tool_calls", "content_filter"
  std::string model;
  Usage usage;
};
/// @throws MalformedReply
[[nodiscard]] ChatReply parse_chat_completion(std::string_view body);

} // namespace fte::openai
