#pragma once

#include <string_view>

#include "fte/runtime/exactly_once.hpp"

namespace fte::escalation {

/// Records one escalation per request, exactly once: a batch's rows and
/// dedup keys commit together, and the tickets are marked escalated. The
/// ticket a request names is always committed before the request exists
/// (agent-worker publishes through its outbox after COMMIT, ADR 0007).
class EscalationHandler final : public runtime::DomainHandler {
public:
  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

  static constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";
};

} // namespace fte::escalation
