#pragma once

#include <span>

#include "fte/common/logging.hpp"
#include "fte/http/documented_answer.hpp"
#include "fte/http/server.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation {

/// The API people use to take escalations (port 8083):
/// `GET /api/escalations?status=open&limit=100` lists them newest first.
class EscalationApi {
public:
  EscalationApi(pg::ConnectionPool& database, Logger logger);

  [[nodiscard]] http::Response handle(const http::Request& request) const;

  /// Every answer of this listener (proto/openapi.yaml, tag `escalations` and
  /// `x-fte-listener-answers.escalations`); tests/escalation_answers_test.cpp
  /// provokes each and compares the list with the document.
  [[nodiscard]] static std::span<const http::DocumentedAnswer> answers();

private:
  [[nodiscard]] http::Response list(const http::Request& request) const;

  pg::ConnectionPool& database_;
  Logger logger_;
};

} // namespace fte::escalation
