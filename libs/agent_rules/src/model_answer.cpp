#include "fte/agent_rules/model_answer.hpp"

#include <nlohmann/json.hpp>

#include "fte/common/text.hpp"
#include "fte/events/cloud_event.hpp"

namespace fte::agent {
namespace {

// A reported prompt below this share of the estimate was cut by the server.
constexpr double kTruncatedBelow = 0.6;

std::vector<std::string> citations_of(const nlohmann::json& object) {
  std::vector<std::string> out;
  const auto it = object.find("citations");
  if (it == object.end() || !it->is_array()) return out;
  for (const auto& c : *it)
    if (c.is_string()) out.push_back(c.get<std::string>());
  return out;
}

ModelAnswer invalid(std::string why) {
  ModelAnswer a;
  a.kind = ModelAnswer::Kind::invalid;
  a.reason = std::move(why);
  return a;
}

// {"answer", "citations", "handoff", "reason"} or the answer tool's
// arguments.
ModelAnswer from_object(const nlohmann::json& object, bool handoff) {
  ModelAnswer a;
  if (handoff || (object.contains("handoff") && object["handoff"].is_boolean() && object["handoff"].get<bool>())) {
    a.kind = ModelAnswer::Kind::handoff;
    a.reason = events::string_field(object, "reason");
    if (a.reason.empty()) a.reason = "no reason given";
    return a;
  }
  a.kind = ModelAnswer::Kind::answer;
  a.text = std::string(trim(events::string_field(object, "answer")));
  a.citations = citations_of(object);
  if (a.text.empty()) return invalid("an empty answer without a handoff");
  return a;
}

// A server that ignored response_format answers in prose; its
// "[article: slug]" markers are the citations. Scanned by hand: std::regex
// recurses per character and a long reply could exhaust the stack.
ModelAnswer from_prose(std::string_view content) {
  constexpr std::string_view kOpen = "[article:";
  const auto slug_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  ModelAnswer a;
  a.kind = ModelAnswer::Kind::answer;
  std::string text;
  std::size_t from = 0;
  for (auto at = content.find(kOpen); at != std::string_view::npos; at = content.find(kOpen, at + 1)) {
    auto i = at + kOpen.size();
    while (i < content.size() && (content[i] == ' ' || content[i] == '\t'))
      ++i;
    const auto slug_start = i;
    while (i < content.size() && slug_char(content[i]))
      ++i;
    if (i == slug_start || content[slug_start] == '-' || i >= content.size() || content[i] != ']') continue;
    a.citations.emplace_back(content.substr(slug_start, i - slug_start));
    text.append(content.substr(from, at - from));
    from = i + 1;
  }
  text.append(content.substr(from));
  a.text = std::string(trim(text));
  if (a.text.empty()) return invalid("an empty answer");
  return a;
}

} // namespace

const char* mode_name(LlmMode mode) noexcept { return mode == LlmMode::json_schema ? "json_schema" : "tools"; }

const char* kind_name(ModelAnswer::Kind kind) noexcept {
  switch (kind) {
  case ModelAnswer::Kind::answer: return "answer";
  case ModelAnswer::Kind::handoff: return "handoff";
  case ModelAnswer::Kind::truncated: return "truncated";
  case ModelAnswer::Kind::invalid: break;
  }
  return "invalid";
}

long estimate_tokens(std::string_view text) noexcept {
  long words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return (words * 13 + 9) / 10;
}

ModelAnswer read_model_answer(const openai::ChatReply& reply, LlmMode mode, long estimated_prompt_tokens) {
  if (reply.usage.prompt_tokens > 0 &&
      static_cast<double>(reply.usage.prompt_tokens) < kTruncatedBelow * static_cast<double>(estimated_prompt_tokens)) {
    ModelAnswer a;
    a.kind = ModelAnswer::Kind::truncated;
    a.reason = "the server read " + std::to_string(reply.usage.prompt_tokens) + " prompt tokens of about " +
               std::to_string(estimated_prompt_tokens) + " sent: its context window cut the prompt";
    return a;
  }
  if (!reply.refusal.empty()) return invalid("the model refused: " + excerpt(reply.refusal, 200));
  if (reply.finish_reason == "length") return invalid("the answer was cut at max_tokens");
  if (!reply.tool_calls.empty()) {
    const auto& call = reply.tool_calls.front();
    if (call.name != "answer" && call.name != "handoff") return invalid("a call to an unknown tool " + call.name);
    const auto args = nlohmann::json::parse(call.arguments, nullptr, false);
    if (!args.is_object()) return invalid("the " + call.name + " tool's arguments are not a JSON object");
    return from_object(args, call.name == "handoff");
  }
  if (mode == LlmMode::tools && reply.content.empty()) return invalid("neither a tool call nor content");
  const auto object = nlohmann::json::parse(reply.content, nullptr, false);
  if (object.is_object()) return from_object(object, false);
  return from_prose(reply.content);
}

} // namespace fte::agent
