#include "fte/openai/wire.hpp"

#include "fte/common/text.hpp"
#include "fte/events/cloud_event.hpp"

namespace fte::openai {
ProviderError provider_error_of(std::string_view body) {
  ProviderError error;
  const auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) {
    error.message = excerpt(body);
    return error;
  }
  const auto it = json.find("error");
  if (it != json.end() && it->is_object()) {        // OpenAI, Ollama, llama.cpp
    error.code = events::string_field(*it, "code"); // llama.cpp's is a number: no string code
    error.type = events::string_field(*it, "type");
    error.message = events::string_field(*it, "message");
  } else if (it != json.end() && it->is_string()) { // vLLM's key check
    error.message = it->get<std::string>();
  } else { // vLLM's ErrorResponse
    error.type = events::string_field(json, "type");
    error.message = events::string_field(json, "message");
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
  reply.model = events::string_field(json, "model");
  reply.finish_reason = events::string_field(choice, "finish_reason");
  reply.content = events::string_field(*message, "content");
  reply.refusal = events::string_field(*message, "refusal");
  if (const auto calls = message->find("tool_calls"); calls != message->end() && calls->is_array()) {
    for (const auto& call : *calls) {
      const auto function = call.is_object() ? call.find("function") : call.end();
      if (function == call.end() || !function->is_object())
        throw MalformedReply("a tool call without a function: " + excerpt(call.dump()));
      ToolCall tool{events::string_field(*function, "name"), {}};
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
