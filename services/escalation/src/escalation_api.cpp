#include "escalation_api.hpp"

#include <boost/url/parse.hpp>
#include <charconv>
#include <pqxx/pqxx>

#include "fte/access/token_store.hpp"
#include "fte/common/text.hpp"

namespace fte::escalation {
namespace {

namespace bhttp = boost::beast::http;

constexpr const char* kListSql = R"sql(
SELECT e.id::text, e.ticket_id::text, e.customer_id::text, e.reason, e.reason_detail, e.priority, e.status,
       to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), e.summary, e.correlation_id,
       t.subject, c.display_name
FROM escalations e
JOIN tickets t ON t.id = e.ticket_id
LEFT JOIN customers c ON c.id = e.customer_id
WHERE ($1 = '' OR e.status = $1)
ORDER BY e.created_at DESC, e.id
LIMIT $2)sql";

constexpr std::string_view kJson = "application/json";

// clang-format off
constexpr http::DocumentedAnswer kAnswers[] = {
    {"/api/escalations", "GET", 200, "", kJson},
    {"/api/escalations", "GET", 400, "invalid_status", kJson},
    {"/api/escalations", "GET", 400, "invalid_limit", kJson},
    {"/api/escalations", "GET", 400, "invalid_target", kJson},
    {"/api/escalations", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/escalations", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/escalations", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/escalations", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/me", "GET", 200, "", kJson},
    {"/api/me", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/me", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/me", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/me", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/auth/login", "GET", 302, "", ""},
    {"/auth/login", "GET", 400, "invalid_return_to", kJson},
    {"/auth/login", "GET", 503, "identity_provider_unavailable", kJson},
    {"/auth/login", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/auth/callback", "GET", 303, "", ""},
    {"/auth/callback", "GET", 400, "invalid_sign_in", kJson},
    {"/auth/callback", "GET", 400, "invalid_target", kJson},
    {"/auth/callback", "GET", 400, "sign_in_refused", kJson},
    {"/auth/callback", "GET", 403, "no_desk_role", kJson},
    {"/auth/callback", "GET", 502, "identity_provider_failed", kJson},
    {"/auth/callback", "GET", 503, "identity_provider_unavailable", kJson},
    {"/auth/callback", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/auth/logout", "POST", 200, "", kJson},
    {"/auth/logout", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/auth/logout", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/auth/logout", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/auth/logout", "POST", 403, "csrf_failed", kJson},
    {"/auth/logout", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations", "GET", 200, "", kJson},
    {"/api/conversations", "GET", 400, "invalid_breached", kJson},
    {"/api/conversations", "GET", 400, "invalid_channel", kJson},
    {"/api/conversations", "GET", 400, "invalid_cursor", kJson},
    {"/api/conversations", "GET", 400, "invalid_limit", kJson},
    {"/api/conversations", "GET", 400, "invalid_priority", kJson},
    {"/api/conversations", "GET", 400, "invalid_target", kJson},
    {"/api/conversations", "GET", 400, "invalid_view", kJson},
    {"/api/conversations", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations", "GET", 403, "supervisor_only", kJson},
    {"/api/conversations", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}", "GET", 200, "", kJson},
    {"/api/conversations/{id}", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}", "GET", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/claim", "POST", 200, "", kJson},
    {"/api/conversations/{id}/claim", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/claim", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/claim", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/claim", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/claim", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/claim", "POST", 409, "already_claimed", kJson},
    {"/api/conversations/{id}/claim", "POST", 409, "conversation_resolved", kJson},
    {"/api/conversations/{id}/claim", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/release", "POST", 200, "", kJson},
    {"/api/conversations/{id}/release", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/release", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/release", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/release", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/release", "POST", 403, "not_owner", kJson},
    {"/api/conversations/{id}/release", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/release", "POST", 409, "conversation_resolved", kJson},
    {"/api/conversations/{id}/release", "POST", 409, "not_claimed", kJson},
    {"/api/conversations/{id}/release", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/assign", "POST", 200, "", kJson},
    {"/api/conversations/{id}/assign", "POST", 400, "invalid_field", kJson},
    {"/api/conversations/{id}/assign", "POST", 400, "invalid_json", kJson},
    {"/api/conversations/{id}/assign", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/assign", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/assign", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/assign", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/assign", "POST", 403, "supervisor_only", kJson},
    {"/api/conversations/{id}/assign", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/assign", "POST", 409, "conversation_resolved", kJson},
    {"/api/conversations/{id}/assign", "POST", 415, "unsupported_media_type", kJson},
    {"/api/conversations/{id}/assign", "POST", 422, "unknown_person", kJson},
    {"/api/conversations/{id}/assign", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/notes", "POST", 201, "", kJson},
    {"/api/conversations/{id}/notes", "POST", 400, "invalid_field", kJson},
    {"/api/conversations/{id}/notes", "POST", 400, "invalid_json", kJson},
    {"/api/conversations/{id}/notes", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/notes", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/notes", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/notes", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/notes", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/notes", "POST", 415, "unsupported_media_type", kJson},
    {"/api/conversations/{id}/notes", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/replies", "POST", 202, "", kJson},
    {"/api/conversations/{id}/replies", "POST", 400, "invalid_field", kJson},
    {"/api/conversations/{id}/replies", "POST", 400, "invalid_idempotency_key", kJson},
    {"/api/conversations/{id}/replies", "POST", 400, "invalid_json", kJson},
    {"/api/conversations/{id}/replies", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/replies", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/replies", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/replies", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/replies", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "channel_unavailable", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "conversation_changed", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "conversation_resolved", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "not_claimed", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "not_owner", kJson},
    {"/api/conversations/{id}/replies", "POST", 409, "whatsapp_window_closed", kJson},
    {"/api/conversations/{id}/replies", "POST", 415, "unsupported_media_type", kJson},
    {"/api/conversations/{id}/replies", "POST", 422, "idempotency_key_reused", kJson},
    {"/api/conversations/{id}/replies", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/resolve", "POST", 200, "", kJson},
    {"/api/conversations/{id}/resolve", "POST", 400, "invalid_field", kJson},
    {"/api/conversations/{id}/resolve", "POST", 400, "invalid_json", kJson},
    {"/api/conversations/{id}/resolve", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/resolve", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/resolve", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/resolve", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/resolve", "POST", 403, "not_owner", kJson},
    {"/api/conversations/{id}/resolve", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/resolve", "POST", 409, "conversation_resolved", kJson},
    {"/api/conversations/{id}/resolve", "POST", 409, "not_claimed", kJson},
    {"/api/conversations/{id}/resolve", "POST", 415, "unsupported_media_type", kJson},
    {"/api/conversations/{id}/resolve", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/conversations/{id}/reopen", "POST", 200, "", kJson},
    {"/api/conversations/{id}/reopen", "POST", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/reopen", "POST", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/reopen", "POST", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/conversations/{id}/reopen", "POST", 403, "csrf_failed", kJson},
    {"/api/conversations/{id}/reopen", "POST", 404, "conversation_not_found", kJson},
    {"/api/conversations/{id}/reopen", "POST", 409, "not_resolved", kJson},
    {"/api/conversations/{id}/reopen", "POST", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/sla", "GET", 200, "", kJson},
    {"/api/sla", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/sla", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/sla", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/sla", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/sla", "PUT", 200, "", kJson},
    {"/api/sla", "PUT", 400, "invalid_field", kJson},
    {"/api/sla", "PUT", 400, "invalid_json", kJson},
    {"/api/sla", "PUT", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/sla", "PUT", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/sla", "PUT", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/sla", "PUT", 403, "csrf_failed", kJson},
    {"/api/sla", "PUT", 403, "supervisor_only", kJson},
    {"/api/sla", "PUT", 415, "unsupported_media_type", kJson},
    {"/api/sla", "PUT", 503, "database_unavailable", kJson, "Retry-After"},
    {"/api/events", "GET", 200, "", "text/event-stream"},
    {"/api/events", "GET", 400, "invalid_conversation", kJson},
    {"/api/events", "GET", 400, "invalid_target", kJson},
    {"/api/events", "GET", 401, "invalid_token", kJson, "WWW-Authenticate"},
    {"/api/events", "GET", 401, "missing_token", kJson, "WWW-Authenticate"},
    {"/api/events", "GET", 401, "session_expired", kJson, "WWW-Authenticate"},
    {"/api/events", "GET", 503, "database_unavailable", kJson, "Retry-After"},
    {"/desk", "GET", 200, "", "text/html"},
    {"/desk/app.js", "GET", 200, "", "text/javascript"},
    {"/desk/app.css", "GET", 200, "", "text/css"},
    {http::kAnyRoute, http::kAnyRoute, 400, "malformed_http", kJson},
    {http::kAnyRoute, http::kAnyRoute, 404, "not_found", kJson},
    {http::kAnyRoute, http::kAnyRoute, 405, "method_not_allowed", kJson, "Allow"},
    {http::kAnyRoute, http::kAnyRoute, 413, "body_too_large", kJson},
    {http::kAnyRoute, http::kAnyRoute, 500, "internal_error", kJson},
};
// clang-format on

// "scheme://host[:port]" of a URL, as browsers send it in Origin.
std::string origin_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const auto path = url.find('/', scheme_end + 3);
  return std::string(url.substr(0, path));
}

} // namespace

std::span<const http::DocumentedAnswer> EscalationApi::answers() { return kAnswers; }

EscalationApi::EscalationApi(pg::ConnectionPool& database, Authenticator authenticate, DeskSignIn* sign_in,
                             const desk::DeskStore& desk, Logger logger)
    : database_(database), authenticate_(std::move(authenticate)), sign_in_(sign_in), desk_(desk),
      logger_(std::move(logger)) {}

Authenticator EscalationApi::api_tokens(pg::ConnectionPool& database) {
  return [&database](std::string_view token) {
    auto connection = database.acquire();
    pqxx::read_transaction tx(*connection);
    return access::find_api_token(tx, token);
  };
}

std::variant<EscalationApi::Caller, http::Response> EscalationApi::authenticate(const http::Request& request,
                                                                                bool changes_state) const {
  // A bearer token first: it is what a tool sends on purpose, while a
  // cookie rides along with anything the browser sends.
  if (const auto token = http::bearer_token(request); !token.empty()) {
    try {
      if (auto principal = authenticate_(token)) return Caller{std::move(*principal), std::nullopt};
    } catch (const std::exception& e) {
      logger_.error("checking an API token failed", {{"error", e.what()}});
      return database_unavailable("API tokens");
    }
    return http::unauthorized("invalid_token", "the bearer token is unknown, revoked or expired", request.version());
  }
  if (sign_in_ != nullptr && !http::cookie_value(request, kSessionCookie).empty()) {
    std::optional<access::Session> session;
    try {
      session = sign_in_->session_of(request);
    } catch (const std::exception& e) {
      logger_.error("reading a session failed", {{"error", e.what()}});
      return database_unavailable("sessions");
    }
    if (!session) {
      return http::unauthorized("session_expired", "the session has ended or expired; sign in again (/auth/login)",
                                request.version());
    }
    if (changes_state) {
      // SameSite=Lax already keeps the cookie off cross-site POSTs; the
      // token and the Origin check hold where a browser does not.
      const auto origin = request.find(bhttp::field::origin);
      const auto csrf = request.find("X-CSRF-Token");
      const bool origin_ok =
          origin == request.end() || std::string_view(origin->value().data(), origin->value().size()) ==
                                         origin_of(sign_in_->settings().public_url);
      if (!origin_ok || csrf == request.end() ||
          std::string_view(csrf->value().data(), csrf->value().size()) != session->csrf_token) {
        return http::error_response(http::Status::forbidden, "csrf_failed",
                                    "a change needs the session's X-CSRF-Token (GET /api/me) from this site");
      }
    }
    access::Principal principal{session->person.username, session->person.role};
    return Caller{std::move(principal), std::move(session)};
  }
  return http::unauthorized("missing_token",
                            "sign in (/auth/login) or send 'Authorization: Bearer <token>' (fte token create)",
                            request.version());
}

http::Response EscalationApi::handle(const http::Request& request) const {
  const std::string_view target(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  const auto wrong_method = [&](bhttp::verb wanted, const char* allow) -> std::optional<http::Response> {
    if (request.method() == wanted) return std::nullopt;
    auto response =
        http::error_response(http::Status::method_not_allowed, "method_not_allowed", std::string("use ") + allow);
    response.set(bhttp::field::allow, allow);
    return response;
  };
  if (sign_in_ != nullptr && path == "/auth/login") {
    if (auto refusal = wrong_method(bhttp::verb::get, "GET")) return *refusal;
    return sign_in_->login(request);
  }
  if (sign_in_ != nullptr && path == "/auth/callback") {
    if (auto refusal = wrong_method(bhttp::verb::get, "GET")) return *refusal;
    return sign_in_->callback(request);
  }
  if (sign_in_ != nullptr && path == "/auth/logout") {
    if (auto refusal = wrong_method(bhttp::verb::post, "POST")) return *refusal;
    const auto caller = authenticate(request, /*changes_state=*/true);
    if (const auto* refusal = std::get_if<http::Response>(&caller)) return *refusal;
    try {
      return sign_in_->logout(request);
    } catch (const std::exception& e) {
      logger_.error("ending a session failed", {{"error", e.what()}});
      return database_unavailable("sessions");
    }
  }
  if (path == "/api/me") {
    if (auto refusal = wrong_method(bhttp::verb::get, "GET")) return *refusal;
    const auto caller = authenticate(request, /*changes_state=*/false);
    if (const auto* refusal = std::get_if<http::Response>(&caller)) return *refusal;
    return me(std::get<Caller>(caller));
  }
  if (path == "/api/escalations") {
    if (auto refusal = wrong_method(bhttp::verb::get, "GET")) return *refusal;
    const auto caller = authenticate(request, /*changes_state=*/false);
    if (const auto* refusal = std::get_if<http::Response>(&caller)) return *refusal;
    return list(request);
  }
  if (auto file = console(request, path)) return std::move(*file);
  if (path == "/api/conversations" || path.starts_with("/api/conversations/") || path == "/api/sla") {
    return desk_route(request, path);
  }
  return http::error_response(http::Status::not_found, "not_found", "no such endpoint");
}

http::Response EscalationApi::me(const Caller& caller) {
  nlohmann::json body = {{"name", caller.principal.name}, {"role", access::to_string(caller.principal.role)}};
  if (caller.session) {
    body["via"] = "session";
    body["display_name"] = caller.session->person.display_name;
    body["email"] = caller.session->person.email;
    body["csrf_token"] = caller.session->csrf_token;
  } else {
    body["via"] = "api_token";
  }
  auto response = http::json_response(http::Status::ok, body);
  response.set(bhttp::field::cache_control, "no-store");
  return response;
}

http::Response EscalationApi::list(const http::Request& request) const {
  // A NUL-terminated copy: Boost.URL 1.81 may strlen its input (see webform_submission.cpp).
  const std::string target(request.target().data(), request.target().size());
  if (target.find('\0') != std::string::npos) {
    return http::error_response(http::Status::bad_request, "invalid_target", "the request target contains a NUL byte");
  }
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) {
    return http::error_response(http::Status::bad_request, "invalid_target", "the request target is not a valid URL");
  }
  std::string status;
  long limit = 100;
  for (const auto& param : url->params()) {
    if (param.key == "status") {
      status = param.value;
      if (status != "open" && status != "assigned" && status != "resolved") {
        return http::error_response(http::Status::bad_request, "invalid_status",
                                    "status must be open, assigned or resolved", "status");
      }
    } else if (param.key == "limit") {
      const auto [ptr, ec] = std::from_chars(param.value.data(), param.value.data() + param.value.size(), limit);
      if (ec != std::errc{} || ptr != param.value.data() + param.value.size() || limit < 1 || limit > 500) {
        return http::error_response(http::Status::bad_request, "invalid_limit", "limit must be 1 to 500", "limit");
      }
    }
  }
  try {
    auto connection = database_.acquire();
    pqxx::read_transaction tx(*connection);
    nlohmann::json escalations = nlohmann::json::array();
    for (const auto& row : tx.exec_params(kListSql, status, limit)) {
      nlohmann::json item = {{"id", row[0].as<std::string>()},          {"ticket_id", row[1].as<std::string>()},
                             {"customer_id", row[2].as<std::string>()}, {"reason", row[3].as<std::string>()},
                             {"priority", row[5].as<std::string>()},    {"status", row[6].as<std::string>()},
                             {"created_at", row[7].as<std::string>()},  {"summary", row[8].as<std::string>("")}};
      if (!row[4].is_null()) item["reason_detail"] = row[4].as<std::string>();
      if (!row[9].is_null()) item["correlation_id"] = row[9].as<std::string>();
      if (!row[10].is_null()) item["subject"] = row[10].as<std::string>();
      if (!row[11].is_null()) item["customer_name"] = row[11].as<std::string>();
      escalations.push_back(std::move(item));
    }
    return http::json_response(http::Status::ok, {{"escalations", escalations}});
  } catch (const std::exception& e) {
    logger_.error("listing escalations failed", {{"error", e.what()}});
    return database_unavailable("escalations");
  }
}

} // namespace fte::escalation
