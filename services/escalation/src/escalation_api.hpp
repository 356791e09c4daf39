#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

#include "desk_live.hpp"
#include "desk_sign_in.hpp"
#include "desk_store.hpp"
#include "fte/access/api_token.hpp"
#include "fte/common/logging.hpp"
#include "fte/http/documented_answer.hpp"
#include "fte/http/server.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation {

/// Who a bearer token belongs to, or nullopt when it is not in force;
/// throws when it cannot tell (the database is down).
using Authenticator = std::function<std::optional<access::Principal>(std::string_view token)>;

/// The API agents' tools use to take escalations (port 8083):
/// `GET /api/escalations?status=open&limit=100` lists them newest first.
/// Every route that returns customer data needs a bearer token or a
/// signed-in person's session (ADR 0020); /auth/* signs people in and out.
class EscalationApi {
public:
  /// `sign_in` null: people cannot sign in (no FTE_OIDC_ISSUER); the
  /// /auth routes do not exist and cookies are ignored. `desk` serves the
  /// conversations (/api/conversations, /api/sla).
  EscalationApi(pg::ConnectionPool& database, Authenticator authenticate, DeskSignIn* sign_in,
                const desk::DeskStore& desk, Logger logger);

  /// The production Authenticator: fte API tokens looked up in `database`.
  [[nodiscard]] static Authenticator api_tokens(pg::ConnectionPool& database);

  [[nodiscard]] http::Response handle(const http::Request& request) const;

  /// GET /api/events: the desk's server-sent events (`?conversation=<id>`:
  /// the one the person has open, for presence), served by `live`.
  [[nodiscard]] http::StreamRoute events_route(desk::DeskLive& live) const;

  /// Every answer of this listener (proto/openapi.yaml, tag `escalations` and
  /// `x-fte-listener-answers.escalations`); tests/escalation_answers_test.cpp
  /// provokes each and compares the list with the document.
  [[nodiscard]] static std::span<const http::DocumentedAnswer> answers();

private:
  /// Who called: a token's principal, or a signed-in person's with the session.
  struct Caller {
    access::Principal principal;
    std::optional<access::Session> session;
  };
  /// The caller, or the 401/403/503 to answer instead. A change made with
  /// a session cookie also needs the session's CSRF token and, when the
  /// browser sends one, this site's Origin.
  [[nodiscard]] std::variant<Caller, http::Response> authenticate(const http::Request& request,
                                                                  bool changes_state) const;
  /// GET /api/me: who the caller is (and the CSRF token, for a session).
  [[nodiscard]] static http::Response me(const Caller& caller);
  [[nodiscard]] http::Response list(const http::Request& request) const;
  /// The console's files (/desk, /desk/app.js, /desk/app.css), or nullopt
  /// for another path.
  [[nodiscard]] static std::optional<http::Response> console(const http::Request& request, std::string_view path);
  /// /api/conversations... and /api/sla (desk_api.cpp).
  [[nodiscard]] http::Response desk_route(const http::Request& request, std::string_view path) const;

  pg::ConnectionPool& database_;
  Authenticator authenticate_;
  DeskSignIn* sign_in_;
  const desk::DeskStore& desk_;
  Logger logger_;
};

} // namespace fte::escalation
