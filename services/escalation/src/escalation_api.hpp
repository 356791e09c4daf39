#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

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
/// Every route that returns customer data needs a bearer token (ADR 0020).
class EscalationApi {
public:
  EscalationApi(pg::ConnectionPool& database, Authenticator authenticate, Logger logger);

  /// The production Authenticator: fte API tokens looked up in `database`.
  [[nodiscard]] static Authenticator api_tokens(pg::ConnectionPool& database);

  [[nodiscard]] http::Response handle(const http::Request& request) const;

  /// Every answer of this listener (proto/openapi.yaml, tag `escalations` and
  /// `x-fte-listener-answers.escalations`); tests/escalation_answers_test.cpp
  /// provokes each and compares the list with the document.
  [[nodiscard]] static std::span<const http::DocumentedAnswer> answers();

private:
  /// The caller, or the 401/503 to answer instead.
  [[nodiscard]] std::variant<access::Principal, http::Response> authenticate(const http::Request& request) const;
  [[nodiscard]] http::Response list(const http::Request& request) const;

  pg::ConnectionPool& database_;
  Authenticator authenticate_;
  Logger logger_;
};

} // namespace fte::escalation
