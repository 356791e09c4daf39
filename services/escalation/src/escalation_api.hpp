#pragma once

#include "fte/common/logging.hpp"
#include "fte/http/server.hpp"
#include "fte/pg/pool.hpp"

namespace fte::escalation {

/// The API people use to take escalations (port 8083):
/// `GET /api/escalations?status=open&limit=100` lists them newest first.
class EscalationApi {
public:
  EscalationApi(pg::ConnectionPool& database, Logger logger);

  [[nodiscard]] http::Response handle(const http::Request& request) const;

private:
  [[nodiscard]] http::Response list(const http::Request& request) const;

  pg::ConnectionPool& database_;
  Logger logger_;
};

} // namespace fte::escalation
