#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "fte/identity/identifier.hpp"

namespace fte::cli {

/// An operator's change to a customer's identifiers (ADR 0011).
struct IdentityChange {
  std::string customer_id;
  identity::Identifier identifier;
  std::string actor; ///< the operator, `--by`
  std::optional<std::string> reason;
  /// Link only: take the identifier from the customer who owns it.
  bool move = false;
};

/// The change does not fit the database: the customer does not exist, the
/// identifier belongs to another customer (and no move was asked for), or
/// it is not linked to the customer it is to be unlinked from. Nothing was
/// changed; the message says what was found.
class IdentityRefused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct LinkResult {
  enum class Outcome { linked, moved, already_linked };
  Outcome outcome = Outcome::linked;
  std::optional<std::string> previous_customer_id; ///< a move: who had it
  /// Open merge candidates this settled: the same identifier, claimed by
  /// the customer it is now linked to. They are marked accepted.
  long accepted_candidates = 0;
};

/// Links `change.identifier` to `change.customer_id` in one transaction,
/// audited as `link` (or `move` with the previous owner). Linking what the
/// customer already has changes and audits nothing.
/// @throws IdentityRefused; pqxx errors as they come.
LinkResult link_identifier(pqxx::connection& connection, const IdentityChange& change);

struct UnlinkResult {
  long remaining_identifiers = 0; ///< 0: no message can reach the customer any more
};

/// Unlinks `change.identifier` from `change.customer_id`, audited as
/// `unlink`. The next message from that identifier starts a new customer.
/// @throws IdentityRefused; pqxx errors as they come.
UnlinkResult unlink_identifier(pqxx::connection& connection, const IdentityChange& change);

/// The customer who owns `identifier`, if any.
[[nodiscard]] std::optional<std::string> find_customer(pqxx::connection& connection,
                                                       const identity::Identifier& identifier);

/// What `fte customers show` prints: the customer, its identifiers, the most
/// recent `audit_limit` changes that concern it (to it or away from it), and
/// the open merge candidates it is the owner or the claimant of. Times are
/// RFC 3339 UTC strings. nullopt when no such customer exists.
[[nodiscard]] std::optional<nlohmann::json> describe_customer(pqxx::connection& connection,
                                                              const std::string& customer_id, int audit_limit);

} // namespace fte::cli
