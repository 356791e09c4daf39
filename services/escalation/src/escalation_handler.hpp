#pragma once

#include <string_view>

#include "desk_store.hpp"
#include "fte/runtime/exactly_once.hpp"

namespace fte::escalation {

/// Records one escalation per request, exactly once: a batch's rows and
/// dedup keys commit together, and the tickets are marked escalated. The
/// ticket a request names is always committed before the request exists
/// (agent-worker publishes through its outbox after COMMIT, ADR 0007).
/// Each request then opens the customer's desk conversation or joins the
/// one they are in (desk::take_handovers, ADR 0021); the desk's events go
/// to `activity_topic` through the same outbox.
class EscalationHandler final : public runtime::DomainHandler {
public:
  EscalationHandler(desk::DeskSettings settings, std::string activity_topic)
      : settings_(std::move(settings)), activity_topic_(std::move(activity_topic)) {}

  void prepare(pqxx::connection& connection) const override;
  void apply(pqxx::work& tx, std::span<const kafka::Delivery* const> fresh, runtime::Outputs& outputs) const override;

  static constexpr std::string_view kEscalationType = "fte.escalation.requested.v1";

private:
  desk::DeskSettings settings_;
  std::string activity_topic_;
};

} // namespace fte::escalation
