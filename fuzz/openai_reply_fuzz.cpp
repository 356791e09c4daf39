// What an OpenAI-compatible server sends back (outside input): an error
// body in any server's shape, and a chat completion read as the agent reads
// it (the model's JSON, its tool calls, or prose with article markers).
// Input: one byte choosing the reader and the mode, then the body.
#include <cstdint>
#include <string_view>

#include "fte/agent_rules/model_answer.hpp"
#include "fte/openai/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 3 == 0) {
    const auto error = fte::openai::provider_error_of(body);
    (void)fte::openai::is_quota_exhausted(error);
    (void)fte::openai::refuses_json_schema(400, error);
    return 0;
  }
  try {
    const auto reply = fte::openai::parse_chat_completion(body);
    const auto mode = data[0] % 3 == 1 ? fte::agent::LlmMode::json_schema : fte::agent::LlmMode::tools;
    const auto answer = fte::agent::read_model_answer(reply, mode, static_cast<long>(data[0]) * 7);
    // An answer has words; every citation is a non-empty string.
    if (answer.kind == fte::agent::ModelAnswer::Kind::answer && answer.text.empty()) __builtin_trap();
    for (const auto& c : answer.citations)
      (void)c.size();
  } catch (const fte::openai::MalformedReply&) {
    // Not a chat completion: the adapter counts it as an error and falls back.
  }
  return 0;
}
