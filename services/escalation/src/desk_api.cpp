// The escalation desk's routes on the escalation listener (ADR 0021):
// /api/conversations (the queue), /api/conversations/{id} (one with the
// customer's history), its actions, and /api/sla. Parsing and the HTTP
// answers are here; what may happen is desk_rules, what is stored desk_store.
#include <algorithm>
#include <array>

#include <boost/url/parse.hpp>
#include <charconv>
#include <pqxx/except>

#include "escalation_api.hpp"
#include "fte/common/embedded_file.hpp"
#include "fte/common/text.hpp"

namespace fte::escalation {
namespace detail {
const std::vector<EmbeddedFile>& console_files();
}
namespace {

namespace bhttp = boost::beast::http;

http::Response refusal_response(const desk::Refusal& refusal) {
  nlohmann::json error = {{"code", refusal.code}, {"message", refusal.message}};
  // An invalid_field message starts with the field's name.
  if (refusal.code == "invalid_field") error["field"] = refusal.message.substr(0, refusal.message.find(':'));
  if (!refusal.owner.empty()) error["owner"] = refusal.owner;
  if (refusal.details.is_object()) {
    for (const auto& [key, value] : refusal.details.items())
      error[key] = value;
  }
  return http::json_response(static_cast<http::Status>(refusal.status), {{"error", error}});
}

http::Response answer_response(const desk::Answer& answer, http::Status success = http::Status::ok) {
  if (const auto* refusal = std::get_if<desk::Refusal>(&answer)) return refusal_response(*refusal);
  auto response = http::json_response(success, std::get<nlohmann::json>(answer));
  response.set(bhttp::field::cache_control, "no-store");
  return response;
}

std::string_view header_value(const http::Request& request, std::string_view name) {
  const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

// A body that is there must be JSON (an empty one is {}).
std::optional<http::Response> not_json(const http::Request& request) {
  if (request.body().empty()) return std::nullopt;
  const auto type = lower_ascii(trim(header_value(request, "Content-Type")));
  if (type == "application/json" || type.starts_with("application/json;")) return std::nullopt;
  return http::error_response(http::Status::unsupported_media_type, "unsupported_media_type",
                              "send the body as application/json", "Content-Type");
}

// The request target as a URL (views into `target`, which must outlive it);
// nullopt when malformed or holding a NUL byte (Boost.URL 1.81 may strlen
// its input).
std::optional<boost::urls::url_view> parse_target(const std::string& target) {
  if (target.find('\0') != std::string::npos) return std::nullopt;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  return *url;
}

http::Response supervisor_only(std::string_view what) {
  return http::error_response(http::Status::forbidden, "supervisor_only",
                              std::string("only supervisors ") + std::string(what));
}

} // namespace

http::Response EscalationApi::desk_route(const http::Request& request, std::string_view path) const {
  const auto method_refusal = [&](const char* allow) {
    auto response =
        http::error_response(http::Status::method_not_allowed, "method_not_allowed", std::string("use ") + allow);
    response.set(bhttp::field::allow, allow);
    return response;
  };
  // The route and its method first, then who calls, then the request.
  std::string id, action;
  if (path.starts_with("/api/conversations/")) {
    const auto rest = path.substr(std::string_view("/api/conversations/").size());
    const auto slash = rest.find('/');
    id = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos) action = std::string(rest.substr(slash + 1));
    static constexpr std::array<std::string_view, 7> kActions = {"claim",   "release", "assign", "notes",
                                                                 "replies", "resolve", "reopen"};
    if (id.empty() ||
        (slash != std::string_view::npos && std::find(kActions.begin(), kActions.end(), action) == kActions.end())) {
      return http::error_response(http::Status::not_found, "not_found", "no such endpoint");
    }
  }
  const bool is_sla = path == "/api/sla";
  const bool reads = request.method() == bhttp::verb::get;
  if (is_sla) {
    if (!reads && request.method() != bhttp::verb::put) return method_refusal("GET, PUT");
  } else if (action.empty()) {
    if (!reads) return method_refusal("GET");
  } else if (request.method() != bhttp::verb::post) {
    return method_refusal("POST");
  }
  const auto authenticated = authenticate(request, /*changes_state=*/!reads);
  if (const auto* refusal = std::get_if<http::Response>(&authenticated)) return *refusal;
  const auto& who = std::get<Caller>(authenticated).principal;
  const bool supervisor = who.role == access::Role::supervisor;

  try {
    if (is_sla) {
      if (reads) return answer_response(desk_.sla());
      if (!supervisor) return supervisor_only("edit the service-level targets");
      if (auto refusal = not_json(request)) return *refusal;
      auto targets = desk::parse_sla_targets(request.body());
      if (const auto* refusal = std::get_if<desk::Refusal>(&targets)) return refusal_response(*refusal);
      return answer_response(desk_.put_sla(who, std::get<std::vector<desk::SlaTarget>>(targets)));
    }
    if (id.empty()) {
      // The queue.
      const std::string target(request.target().data(), request.target().size());
      const auto url = parse_target(target);
      if (!url) {
        return http::error_response(http::Status::bad_request, "invalid_target",
                                    "the request target is not a valid URL");
      }
      desk::QueueQuery query;
      for (const auto& param : url->params()) {
        const std::string value = param.value;
        if (param.key == "view") {
          if (value != "mine" && value != "unassigned" && value != "all") {
            return http::error_response(http::Status::bad_request, "invalid_view",
                                        "view must be mine, unassigned or all", "view");
          }
          query.view = value;
        } else if (param.key == "channel") {
          if (value != "whatsapp" && value != "email" && value != "webform") {
            return http::error_response(http::Status::bad_request, "invalid_channel",
                                        "channel must be whatsapp, email or webform", "channel");
          }
          query.channel = value;
        } else if (param.key == "priority") {
          if (value != "low" && value != "normal" && value != "high" && value != "urgent") {
            return http::error_response(http::Status::bad_request, "invalid_priority",
                                        "priority must be low, normal, high or urgent", "priority");
          }
          query.priority = value;
        } else if (param.key == "breached") {
          if (value != "true" && value != "false") {
            return http::error_response(http::Status::bad_request, "invalid_breached", "breached must be true or false",
                                        "breached");
          }
          query.breached = value == "true";
        } else if (param.key == "limit") {
          const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), query.limit);
          if (ec != std::errc{} || ptr != value.data() + value.size() || query.limit < 1 || query.limit > 200) {
            return http::error_response(http::Status::bad_request, "invalid_limit", "limit must be 1 to 200", "limit");
          }
        } else if (param.key == "after") {
          query.after = value;
        }
      }
      if (query.view == "all" && !supervisor) return supervisor_only("see every conversation (view=all)");
      return answer_response(desk_.queue(who, query));
    }
    if (action.empty()) return answer_response(desk_.conversation(who, id));
    if (action == "claim") return answer_response(desk_.claim(who, id));
    if (action == "release") return answer_response(desk_.release(who, id));
    if (action == "reopen") return answer_response(desk_.reopen(who, id));
    if (action == "assign" && !supervisor) return supervisor_only("assign conversations");
    if (auto refusal = not_json(request)) return *refusal;
    if (action == "replies") {
      const auto key = header_value(request, "Idempotency-Key");
      if (key.size() > desk::kIdempotencyKeyLimit ||
          !std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
        return http::error_response(http::Status::bad_request, "invalid_idempotency_key",
                                    "Idempotency-Key must be 1 to 255 visible ASCII characters", "Idempotency-Key");
      }
      auto reply = desk::parse_reply_request(request.body());
      if (const auto* refusal = std::get_if<desk::Refusal>(&reply)) return refusal_response(*refusal);
      return answer_response(desk_.reply(who, id, std::get<desk::ReplyRequest>(reply), std::string(key)),
                             http::Status::accepted);
    }
    auto body = desk::parse_object(request.body());
    if (const auto* refusal = std::get_if<desk::Refusal>(&body)) return refusal_response(*refusal);
    const auto& json = std::get<nlohmann::json>(body);
    const auto text = [&](std::string_view field, std::size_t limit, bool required) {
      return required ? desk::required_text(json, field, limit) : desk::optional_text(json, field, limit);
    };
    if (action == "assign") {
      auto to = text("to", 255, true);
      if (const auto* refusal = std::get_if<desk::Refusal>(&to)) return refusal_response(*refusal);
      return answer_response(desk_.assign(who, id, std::get<std::string>(to)));
    }
    if (action == "notes") {
      auto note = text("body", desk::kNoteLimit, true);
      if (const auto* refusal = std::get_if<desk::Refusal>(&note)) return refusal_response(*refusal);
      return answer_response(desk_.note(who, id, std::get<std::string>(note)), http::Status::created);
    }
    auto article = text("article", 255, false); // resolve
    if (const auto* refusal = std::get_if<desk::Refusal>(&article)) return refusal_response(*refusal);
    return answer_response(desk_.resolve(who, id, std::get<std::string>(article)));
  } catch (const pqxx::failure& e) {
    logger_.error("a desk request failed", {{"path", std::string(path)}, {"error", e.what()}});
    return database_unavailable("conversations");
  } catch (const pg::PoolTimeout& e) {
    logger_.error("a desk request found no database connection", {{"path", std::string(path)}, {"error", e.what()}});
    return database_unavailable("conversations");
  }
}

std::optional<http::Response> EscalationApi::console(const http::Request& request, std::string_view path) {
  static constexpr std::array<std::array<std::string_view, 3>, 3> kFiles = {{
      {"/desk", "desk.html", "text/html; charset=utf-8"},
      {"/desk/app.js", "desk.js", "text/javascript; charset=utf-8"},
      {"/desk/app.css", "desk.css", "text/css; charset=utf-8"},
  }};
  const auto* file = std::find_if(kFiles.begin(), kFiles.end(), [&](const auto& f) { return f[0] == path; });
  if (file == kFiles.end()) return std::nullopt;
  if (request.method() != bhttp::verb::get) {
    auto response = http::error_response(http::Status::method_not_allowed, "method_not_allowed", "use GET");
    response.set(bhttp::field::allow, "GET");
    return response;
  }
  http::Response response{http::Status::ok, request.version()};
  for (const auto& embedded : detail::console_files()) {
    if (embedded.name == (*file)[1]) response.body() = std::string(embedded.text);
  }
  response.set(bhttp::field::content_type, (*file)[2]);
  // The console is this origin's own files: no inline script or style, no
  // other origin, never framed; it holds no customer data (the API does).
  response.set("Content-Security-Policy",
               "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
               "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  response.set(bhttp::field::cache_control, "no-cache");
  return response;
}

http::StreamRoute EscalationApi::events_route(desk::DeskLive& live) const {
  const auto path_of = [](const http::Request& request) {
    const std::string_view target(request.target().data(), request.target().size());
    return target.substr(0, target.find('?'));
  };
  return http::StreamRoute{
      [path_of](const http::Request& request) { return path_of(request) == "/api/events"; },
      [this, &live](http::Request request,
                    http::StreamWriter& writer) -> boost::asio::awaitable<std::optional<http::Response>> {
        if (request.method() != bhttp::verb::get) {
          auto response = http::error_response(http::Status::method_not_allowed, "method_not_allowed", "use GET");
          response.set(bhttp::field::allow, "GET");
          co_return response;
        }
        // Who first: nothing about the request is looked at for a stranger.
        auto caller = authenticate(request, /*changes_state=*/false);
        if (auto* refusal = std::get_if<http::Response>(&caller)) co_return std::move(*refusal);
        std::string conversation;
        const std::string target(request.target().data(), request.target().size());
        const auto url = parse_target(target);
        if (!url) {
          co_return http::error_response(http::Status::bad_request, "invalid_target",
                                         "the request target is not a valid URL");
        }
        for (const auto& param : url->params()) {
          if (param.key == "conversation") conversation = param.value;
        }
        if (!conversation.empty() && !desk::is_uuid(conversation)) {
          co_return http::error_response(http::Status::bad_request, "invalid_conversation",
                                         "conversation must be a conversation's id", "conversation");
        }
        co_await live.stream(writer, std::get<Caller>(caller).principal.name, conversation);
        co_return std::nullopt;
      }};
}

} // namespace fte::escalation
