#include "customer_identity.hpp"

#include <chrono>

#include "fte/common/time.hpp"

namespace fte::cli {
namespace {

// Row locks: the customer (so it cannot be deleted under the change) and
// the identifier's row (so a concurrent link, unlink or first message
// waits for this transaction rather than interleaving with it).
constexpr const char* kLockCustomer = "SELECT 1 FROM customers WHERE id = $1::uuid FOR SHARE";
constexpr const char* kLockIdentifier =
    "SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2 FOR UPDATE";
// DO NOTHING: a first message linking it meanwhile is seen on the next turn.
constexpr const char* kInsertIdentifier = "INSERT INTO customer_identifiers (customer_id, kind, value) "
                                          "VALUES ($1::uuid, $2, $3) ON CONFLICT (kind, value) DO NOTHING RETURNING id";
constexpr const char* kMoveIdentifier =
    "UPDATE customer_identifiers SET customer_id = $1::uuid WHERE kind = $2 AND value = $3";
constexpr const char* kDeleteIdentifier = "DELETE FROM customer_identifiers WHERE kind = $1 AND value = $2";
constexpr const char* kAudit =
    "INSERT INTO customer_identity_audit (action, kind, value, customer_id, previous_customer_id, actor, reason) "
    "VALUES ($1, $2, $3, $4::uuid, $5::uuid, $6, $7)";
constexpr const char* kAcceptCandidates =
    "UPDATE customer_merge_candidates SET status = 'accepted', decided_by = $4, decided_at = now(), "
    "decision_reason = $5 WHERE kind = $1 AND value = $2 AND claimant_customer_id = $3::uuid AND status = 'open'";
constexpr const char* kCountIdentifiers = "SELECT count(*) FROM customer_identifiers WHERE customer_id = $1::uuid";
constexpr const char* kFindCustomer =
    "SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2";

// Times leave as epoch milliseconds and are written by fte's own RFC 3339
// formatter, whatever the session's time zone.
constexpr const char* kCustomer = "SELECT id::text, display_name, (extract(epoch FROM created_at) * 1000)::bigint "
                                  "FROM customers WHERE id = $1::uuid";
constexpr const char* kIdentifiers = "SELECT kind, value, (extract(epoch FROM created_at) * 1000)::bigint "
                                     "FROM customer_identifiers WHERE customer_id = $1::uuid ORDER BY kind, value";
constexpr const char* kRecentAudit =
    "SELECT id, (extract(epoch FROM at) * 1000)::bigint, action, kind, value, customer_id::text, "
    "previous_customer_id::text, actor, reason, source_event_id FROM customer_identity_audit "
    "WHERE customer_id = $1::uuid OR previous_customer_id = $1::uuid ORDER BY at DESC, id DESC LIMIT $2";
constexpr const char* kOpenCandidates =
    "SELECT id, kind, value, owner_customer_id::text, claimant_customer_id::text, source_event_id, "
    "last_source_event_id, claims, (extract(epoch FROM created_at) * 1000)::bigint, "
    "(extract(epoch FROM last_claimed_at) * 1000)::bigint FROM customer_merge_candidates "
    "WHERE status = 'open' AND (owner_customer_id = $1::uuid OR claimant_customer_id = $1::uuid) "
    "ORDER BY created_at, id";

std::string rfc3339(const pqxx::field& epoch_ms) {
  return format_rfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(epoch_ms.as<long long>())));
}

const char* nullable(const std::optional<std::string>& text) { return text ? text->c_str() : nullptr; }

std::string describe(const identity::Identifier& identifier) {
  return std::string(identity::to_string(identifier.kind)) + " " + identifier.value;
}

void require_customer(pqxx::work& tx, const std::string& customer_id) {
  if (tx.exec_params(kLockCustomer, customer_id).empty()) {
    throw IdentityRefused("no customer " + customer_id);
  }
}

std::optional<std::string> lock_owner(pqxx::work& tx, const identity::Identifier& identifier) {
  const auto rows =
      tx.exec_params(kLockIdentifier, std::string(identity::to_string(identifier.kind)), identifier.value);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

void audit(pqxx::work& tx, const char* action, const IdentityChange& change,
           const std::optional<std::string>& previous_customer_id) {
  tx.exec_params(kAudit, action, std::string(identity::to_string(change.identifier.kind)), change.identifier.value,
                 change.customer_id, nullable(previous_customer_id), change.actor, nullable(change.reason));
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

nlohmann::json text_or_null(const pqxx::field& field) {
  return field.is_null() ? nlohmann::json(nullptr) : nlohmann::json(field.as<std::string>());
}

} // namespace

LinkResult link_identifier(pqxx::connection& connection, const IdentityChange& change) {
  const auto kind = std::string(identity::to_string(change.identifier.kind));
  pqxx::work tx(connection);
  require_customer(tx, change.customer_id);
  LinkResult result;
  // Two turns at most: when the insert finds the identifier linked after
  // all (a first message from it committed in between), the second turn
  // sees and locks that owner's row.
  for (int turn = 0; turn < 2; ++turn) {
    const auto owner = lock_owner(tx, change.identifier);
    if (owner == change.customer_id) {
      result.outcome = LinkResult::Outcome::already_linked;
      return result; // nothing changed, nothing to audit; the transaction rolls back
    }
    if (owner) {
      if (!change.move) {
        throw IdentityRefused(describe(change.identifier) + " belongs to customer " + *owner +
                              "; give --move to move it to customer " + change.customer_id + " (audited as a move)");
      }
      tx.exec_params(kMoveIdentifier, change.customer_id, kind, change.identifier.value);
      audit(tx, "move", change, owner);
      result.outcome = LinkResult::Outcome::moved;
      result.previous_customer_id = owner;
    } else {
      if (tx.exec_params(kInsertIdentifier, change.customer_id, kind, change.identifier.value).empty()) continue;
      audit(tx, "link", change, std::nullopt);
      result.outcome = LinkResult::Outcome::linked;
    }
    // The person who made this link has decided what the claimants of this
    // identifier asked for, where the claimant is the customer now holding it.
    result.accepted_candidates =
        static_cast<long>(tx.exec_params(kAcceptCandidates, kind, change.identifier.value, change.customer_id,
                                         change.actor, nullable(change.reason))
                              .affected_rows());
    tx.commit();
    return result;
  }
  throw IdentityRefused(describe(change.identifier) + " changed owner twice while being linked; run the command again");
}

UnlinkResult unlink_identifier(pqxx::connection& connection, const IdentityChange& change) {
  const auto kind = std::string(identity::to_string(change.identifier.kind));
  pqxx::work tx(connection);
  require_customer(tx, change.customer_id);
  const auto owner = lock_owner(tx, change.identifier);
  if (!owner) {
    throw IdentityRefused(describe(change.identifier) + " is not linked to any customer");
  }
  if (*owner != change.customer_id) {
    throw IdentityRefused(describe(change.identifier) + " belongs to customer " + *owner + ", not to customer " +
                          change.customer_id);
  }
  tx.exec_params(kDeleteIdentifier, kind, change.identifier.value);
  audit(tx, "unlink", change, std::nullopt);
  UnlinkResult result;
  result.remaining_identifiers = tx.exec_params1(kCountIdentifiers, change.customer_id)[0].as<long>();
  tx.commit();
  return result;
}

std::optional<std::string> find_customer(pqxx::connection& connection, const identity::Identifier& identifier) {
  pqxx::read_transaction tx(connection);
  const auto rows = tx.exec_params(kFindCustomer, std::string(identity::to_string(identifier.kind)), identifier.value);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::optional<nlohmann::json> describe_customer(pqxx::connection& connection, const std::string& customer_id,
                                                int audit_limit) {
  // One snapshot, so identifiers, audit and candidates agree with each other.
  pqxx::read_transaction tx(connection);
  const auto customer = tx.exec_params(kCustomer, customer_id);
  if (customer.empty()) return std::nullopt;
  nlohmann::json out = {{"customer",
                         {{"id", customer[0][0].as<std::string>()},
                          {"display_name", text_or_null(customer[0][1])},
                          {"created_at", rfc3339(customer[0][2])}}},
                        {"identifiers", nlohmann::json::array()},
                        {"audit", nlohmann::json::array()},
                        {"merge_candidates", nlohmann::json::array()}};
  for (const auto& row : tx.exec_params(kIdentifiers, customer_id)) {
    out["identifiers"].push_back(
        {{"kind", row[0].as<std::string>()}, {"value", row[1].as<std::string>()}, {"linked_at", rfc3339(row[2])}});
  }
  for (const auto& row : tx.exec_params(kRecentAudit, customer_id, audit_limit)) {
    nlohmann::json entry = {{"id", row[0].as<long long>()},       {"at", rfc3339(row[1])},
                            {"action", row[2].as<std::string>()}, {"kind", row[3].as<std::string>()},
                            {"value", row[4].as<std::string>()},  {"customer_id", row[5].as<std::string>()},
                            {"actor", row[7].as<std::string>()}};
    if (auto previous = optional_text(row[6])) entry["previous_customer_id"] = *previous;
    if (auto reason = optional_text(row[8])) entry["reason"] = *reason;
    if (auto event = optional_text(row[9])) entry["source_event_id"] = *event;
    out["audit"].push_back(std::move(entry));
  }
  for (const auto& row : tx.exec_params(kOpenCandidates, customer_id)) {
    out["merge_candidates"].push_back({{"id", row[0].as<long long>()},
                                       {"kind", row[1].as<std::string>()},
                                       {"value", row[2].as<std::string>()},
                                       {"owner_customer_id", row[3].as<std::string>()},
                                       {"claimant_customer_id", row[4].as<std::string>()},
                                       {"source_event_id", row[5].as<std::string>()},
                                       {"last_source_event_id", row[6].as<std::string>()},
                                       {"claims", row[7].as<long>()},
                                       {"status", "open"},
                                       {"created_at", rfc3339(row[8])},
                                       {"last_claimed_at", rfc3339(row[9])}});
  }
  return out;
}

} // namespace fte::cli
