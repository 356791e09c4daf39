#include "fte/openai/wire.hpp"

#include "fte/common/text.hpp"

namespace fte::openai {
namespace {

std::string string_or_empty(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

std::string excerpt(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return truncate_utf8(text, limit) + "...";
}

ProviderError provider_error_of(std::string_view body) {
  ProviderError error;
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) {
    error.message = excerpt(body);
    return error;
  }
  const auto it = json.find("error");
  if (it != json.end() && it->is_object()) {   // OpenAI, Ollama, llama.cpp
    error.code = string_or_empty(*it, "code"); // llama.cpp's is a number: no string code
    error.type = string_or_empty(*it, "type");
    error.message = string_or_empty(*it, "message");
  } else if (it != json.end() && it->is_string()) { // vLLM's key check
    error.message = it->get<std::string>();
  } else { // vLLM's ErrorResponse
    error.type = string_or_empty(json, "type");
    error.message = string_or_empty(json, "message");
  }
  if (error.message.empty()) error.message = excerpt(body);
  return error;
}

bool is_quota_exhausted(const ProviderError& error) noexcept {
  return error.code == "insufficient_quota" || error.type == "insufficient_quota";
}

bool refuses_json_schema(long status, const ProviderError& error) noexcept {
  return status == 400 && (error.message.find("json_schema") != std::string::npos ||
                           error.message.find("response_format") != std::string::npos);
}

ChatReply parse_chat_completion(std::string_view body) {
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) throw MalformedReply("a chat completion that is not a JSON object: " + excerpt(body));
  const auto choices = json.find("choices");
  if (choices == json.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
    throw MalformedReply("a chat completion without choices: " + excerpt(body));
  const auto& choice = (*choices)[0];
  const auto message = choice.find("message");
  if (message == choice.end() || !message->is_object())
    throw MalformedReply("a chat completion choice without a message: " + excerpt(body));

  ChatReply reply;
  reply.model = string_or_empty(json, "model");
  reply.finish_reason = string_or_empty(choice, "finish_reason");
  reply.content = string_or_empty(*message, "content");
  reply.refusal = string_or_empty(*message, "refusal");
  if (const auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
    for (const auto& call : *calls) {
      const auto function = call.is_object() ? call.find("function") : call.end();
      if (function == call.end() || !function->is_object())
        throw MalformedReply("a tool call without a function: " + excerpt(call.dump()));
      ToolCall tool{string_or_empty(*function, "name"), {}};
      // OpenAI sends the arguments as JSON text; some servers (older
      // Ollama) as an object.
      if (const auto args = function->find("arguments"); args != function->end())
        tool.arguments = args->is_string() ? args->get<std::string>() : args->dump();
      if (tool.name.empty()) throw MalformedReply("a tool call without a name");
      reply.tool_calls.push_back(std::move(tool));
    }
  }
  if (const auto usage = json.find("usage"); usage != json.end() && usage->is_object()) {
    const auto count = [&](const char* key) {
      const auto it = usage->find(key);
      return it != usage->end() && it->is_number_integer() ? it->get<long>() : 0L;
    };
    reply.usage = {count("prompt_tokens"), count("completion_tokens")};
  }
  return reply;
}

} // namespace fte::openai
