#include "desk_rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <stdexcept>
#include <tuple>

#include "fte/common/text.hpp"

namespace fte::escalation::desk {
namespace {

constexpr std::array<std::string_view, 4> kStatusNames = {"open", "assigned", "waiting", "resolved"};
constexpr std::array<std::string_view, 4> kPriorities = {"low", "normal", "high", "urgent"};
constexpr std::array<std::string_view, 3> kChannels = {"whatsapp", "email", "webform"};

bool is_supervisor(const access::Principal& who) { return who.role == access::Role::supervisor; }

Refusal refused(int status, std::string code, std::string message, std::string owner = {}) {
  return Refusal{status, std::move(code), std::move(message), std::move(owner)};
}

Refusal resolved_refusal() {
  return refused(409, "conversation_resolved", "the conversation is resolved; reopen it first");
}

Refusal bad_field(std::string_view field, std::string message) {
  return refused(400, "invalid_field", std::string(field) + ": " + message, {});
}

} // namespace

std::string_view to_string(Status status) noexcept { return kStatusNames[static_cast<std::size_t>(status)]; }

std::optional<Status> parse_status(std::string_view text) noexcept {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i) {
    if (kStatusNames[i] == text) return static_cast<Status>(i);
  }
  return std::nullopt;
}

State after_customer_message(const State& state) {
  if (state.status == Status::open || state.status == Status::assigned) return state;
  return State{state.owner.empty() ? Status::open : Status::assigned, state.owner};
}

Outcome claim(const State& state, const access::Principal& who) {
  if (state.status == Status::resolved) return resolved_refusal();
  if (state.owner == who.name) return state;
  if (!state.owner.empty()) {
    return refused(409, "already_claimed", state.owner + " owns this conversation", state.owner);
  }
  return State{Status::assigned, who.name};
}

Outcome release(const State& state, const access::Principal& who) {
  if (state.status == Status::resolved) return resolved_refusal();
  if (state.owner.empty()) return refused(409, "not_claimed", "nobody owns this conversation");
  if (state.owner != who.name && !is_supervisor(who)) {
    return refused(403, "not_owner", state.owner + " owns this conversation; only they or a supervisor release it",
                   state.owner);
  }
  return State{Status::open, {}};
}

Outcome assign(const State& state, const access::Principal& who, std::string_view to) {
  if (!is_supervisor(who)) return refused(403, "supervisor_only", "only a supervisor assigns conversations");
  if (state.status == Status::resolved) return resolved_refusal();
  // Waiting stays waiting: the customer owes the next message, whoever owns it.
  return State{state.status == Status::waiting ? Status::waiting : Status::assigned, std::string(to)};
}

Outcome reply(const State& state, const access::Principal& who, bool reopen) {
  if (state.status == Status::resolved) {
    if (!reopen) {
      return refused(409, "conversation_resolved",
                     "the conversation is resolved; send again with \"reopen\": true to reopen it and reply");
    }
    return State{Status::waiting, who.name};
  }
  if (state.owner.empty()) return refused(409, "not_claimed", "claim the conversation before replying");
  if (state.owner != who.name) {
    return refused(409, "not_owner", state.owner + " owns this conversation", state.owner);
  }
  return State{Status::waiting, who.name};
}

Outcome resolve(const State& state, const access::Principal& who) {
  if (state.status == Status::resolved) return refused(409, "conversation_resolved", "already resolved");
  if (state.owner != who.name && !is_supervisor(who)) {
    if (state.owner.empty()) return refused(409, "not_claimed", "claim the conversation before resolving it");
    return refused(403, "not_owner", state.owner + " owns this conversation; only they or a supervisor resolve it",
                   state.owner);
  }
  return State{Status::resolved, state.owner.empty() ? who.name : state.owner};
}

Outcome reopen(const State& state, const access::Principal& who) {
  if (state.status != Status::resolved) return refused(409, "not_resolved", "the conversation is not resolved");
  return State{Status::assigned, who.name};
}

std::vector<Change> stale_reply_changes(const std::vector<Change>& since, std::string_view author) {
  std::vector<Change> stale;
  for (const auto& change : since) {
    if (change.action == "customer_wrote" || (change.action == "replied" && change.actor != author)) {
      stale.push_back(change);
    }
  }
  return stale;
}

Window whatsapp_window(std::optional<std::chrono::system_clock::time_point> last_customer_message,
                       std::chrono::system_clock::time_point now) {
  if (!last_customer_message) return {};
  const auto closes = *last_customer_message + kWhatsAppWindow;
  return Window{now < closes, closes};
}

std::vector<WhatsAppTemplate> parse_templates(std::string_view json) {
  if (trim(json).empty()) return {};
  const auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) throw std::invalid_argument("is not a JSON array of {name, content_sid, text}");
  std::vector<WhatsAppTemplate> templates;
  std::set<std::string> names;
  for (const auto& item : parsed) {
    const auto text_of = [&](const char* field) {
      if (!item.is_object() || !item.contains(field) || !item[field].is_string() ||
          item[field].get<std::string>().empty()) {
        throw std::invalid_argument(std::string("every template needs a non-empty \"") + field + "\"");
      }
      return item[field].get<std::string>();
    };
    WhatsAppTemplate t{text_of("name"), text_of("content_sid"), text_of("text")};
    // Twilio Content SIDs: "HX" and 32 hex digits.
    if (t.content_sid.size() != 34 || !t.content_sid.starts_with("HX") ||
        !std::all_of(t.content_sid.begin() + 2, t.content_sid.end(), [](char c) { return std::isxdigit(c) != 0; })) {
      throw std::invalid_argument("template " + t.name + ": content_sid is not a Twilio Content SID (HX + 32 hex)");
    }
    if (!names.insert(t.name).second) throw std::invalid_argument("template " + t.name + " is listed twice");
    templates.push_back(std::move(t));
  }
  return templates;
}

std::vector<int> template_placeholders(std::string_view text) {
  std::set<int> found;
  for (std::size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at + 2)) {
    const auto end = text.find("}}", at + 2);
    if (end == std::string_view::npos) break;
    const auto inside = text.substr(at + 2, end - at - 2);
    if (inside.empty() || inside.size() > 3 ||
        !std::all_of(inside.begin(), inside.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    found.insert(std::stoi(std::string(inside)));
  }
  return {found.begin(), found.end()};
}

std::variant<RenderedTemplate, Refusal> render(const WhatsAppTemplate& tmpl, const nlohmann::json& variables) {
  if (!variables.is_null() && !variables.is_object()) {
    return bad_field("variables", "must be an object such as {\"1\": \"Ada\"}");
  }
  RenderedTemplate out{tmpl.text, nlohmann::json::object()};
  for (const int n : template_placeholders(tmpl.text)) {
    const auto key = std::to_string(n);
    if (variables.is_null() || !variables.contains(key) || !variables[key].is_string()) {
      return bad_field("variables", "template " + tmpl.name + " needs variable " + key);
    }
    const auto value = variables[key].get<std::string>();
    if (trim(value).empty() || value.size() > 1024 || !is_valid_utf8(value)) {
      return bad_field("variables", "variable " + key + " must be 1 to 1024 bytes of UTF-8 text");
    }
    out.content_variables[key] = value;
    const auto placeholder = "{{" + key + "}}";
    for (auto at = out.text.find(placeholder); at != std::string::npos;
         at = out.text.find(placeholder, at + value.size())) {
      out.text.replace(at, placeholder.size(), value);
    }
  }
  return out;
}

std::optional<std::string> next_assignee(std::vector<Candidate>& candidates,
                                         std::chrono::system_clock::time_point now) {
  if (candidates.empty()) return std::nullopt;
  auto best = std::min_element(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.active, a.last_assigned, a.name) < std::tie(b.active, b.last_assigned, b.name);
  });
  ++best->active;
  best->last_assigned = now;
  return best->name;
}

std::variant<nlohmann::json, Refusal> parse_object(std::string_view body) {
  if (trim(body).empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return refused(400, "invalid_json", "the body is not valid JSON");
  if (!parsed.is_object()) return refused(400, "invalid_json", "the body must be a JSON object");
  return parsed;
}

std::variant<std::string, Refusal> optional_text(const nlohmann::json& object, std::string_view field,
                                                 std::size_t limit) {
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return bad_field(field, "must be a string");
  auto value = it->get<std::string>();
  // nlohmann's parser already refuses invalid UTF-8 in JSON text; a value
  // built another way is checked all the same.
  if (!is_valid_utf8(value)) return bad_field(field, "must be UTF-8 text");
  if (value.size() > limit) return bad_field(field, "must be at most " + std::to_string(limit) + " bytes");
  return value;
}

std::variant<std::string, Refusal> required_text(const nlohmann::json& object, std::string_view field,
                                                 std::size_t limit) {
  auto value = optional_text(object, field, limit);
  if (const auto* text = std::get_if<std::string>(&value); text && trim(*text).empty()) {
    return bad_field(field, "is required and may not be blank");
  }
  return value;
}

std::variant<ReplyRequest, Refusal> parse_reply_request(std::string_view body) {
  auto object = parse_object(body);
  if (auto* refusal = std::get_if<Refusal>(&object)) return std::move(*refusal);
  const auto& json = std::get<nlohmann::json>(object);
  ReplyRequest request;
  const auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer() || version->get<std::int64_t>() < 1) {
    return bad_field("version", "is required: the conversation's version this reply answers (GET it first)");
  }
  request.version = version->get<std::int64_t>();
  const auto text = [&](std::string_view field, std::size_t limit, std::string& out) -> std::optional<Refusal> {
    auto value = optional_text(json, field, limit);
    if (auto* refusal = std::get_if<Refusal>(&value)) return std::move(*refusal);
    out = std::move(std::get<std::string>(value));
    return std::nullopt;
  };
  if (auto r = text("body", kEmailBodyLimit, request.body)) return *r;
  if (auto r = text("channel", 16, request.channel)) return *r;
  if (auto r = text("template", 255, request.template_name)) return *r;
  if (auto r = text("article", 255, request.article)) return *r;
  if (!request.channel.empty() && std::find(kChannels.begin(), kChannels.end(), request.channel) == kChannels.end()) {
    return bad_field("channel", "must be whatsapp, email or webform");
  }
  if (const auto it = json.find("variables"); it != json.end()) request.variables = *it;
  if (const auto it = json.find("reopen"); it != json.end()) {
    if (!it->is_boolean()) return bad_field("reopen", "must be true or false");
    request.reopen = it->get<bool>();
  }
  const bool has_body = !trim(request.body).empty();
  if (has_body == !request.template_name.empty()) {
    return bad_field(has_body ? "template" : "body", "send either a body or a template, not both nor neither");
  }
  if (!request.template_name.empty() && !request.channel.empty() && request.channel != "whatsapp") {
    return bad_field("template", "templates are WhatsApp's; this reply goes by " + request.channel);
  }
  for (const auto& [key, value] : json.items()) {
    static constexpr std::array<std::string_view, 7> kKnown = {"version", "body",      "channel", "template",
                                                               "article", "variables", "reopen"};
    if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) return bad_field(key, "is not a reply field");
  }
  return request;
}

std::variant<std::vector<SlaTarget>, Refusal> parse_sla_targets(std::string_view body) {
  auto object = parse_object(body);
  if (auto* refusal = std::get_if<Refusal>(&object)) return std::move(*refusal);
  const auto& json = std::get<nlohmann::json>(object);
  const auto it = json.find("targets");
  if (it == json.end() || !it->is_array() || it->empty()) {
    return bad_field("targets", "is required: a list of {priority, first_response_minutes, resolution_minutes}");
  }
  std::vector<SlaTarget> targets;
  std::set<std::string> seen;
  constexpr int kYear = 525600;
  for (const auto& item : *it) {
    if (!item.is_object()) return bad_field("targets", "every target is an object");
    auto priority = optional_text(item, "priority", 16);
    if (auto* refusal = std::get_if<Refusal>(&priority)) return std::move(*refusal);
    const auto& p = std::get<std::string>(priority);
    if (std::find(kPriorities.begin(), kPriorities.end(), p) == kPriorities.end()) {
      return bad_field("priority", "must be low, normal, high or urgent");
    }
    if (!seen.insert(p).second) return bad_field("priority", p + " is listed twice");
    SlaTarget target{p, 0, 0};
    for (const auto& [field, out] :
         {std::pair<const char*, int*>{"first_response_minutes", &target.first_response_minutes},
          std::pair<const char*, int*>{"resolution_minutes", &target.resolution_minutes}}) {
      const auto value = item.find(field);
      if (value == item.end() || !value->is_number_integer() || value->get<std::int64_t>() < 1 ||
          value->get<std::int64_t>() > kYear) {
        return bad_field(field, "must be a whole number of minutes from 1 to 525600");
      }
      *out = value->get<int>();
    }
    if (target.resolution_minutes < target.first_response_minutes) {
      return bad_field("resolution_minutes", p + ": resolution cannot be due before the first response");
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

} // namespace fte::escalation::desk
