#pragma once

#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "fte/identity/identifier.hpp"
#include "inbound_message.hpp"

namespace fte::normalizer {

/// The customers behind a batch's identifiers, found (and for senders
/// created) inside the caller's transaction in a fixed number of statements
/// however large the batch. A customer is found by the identifier its
/// channel proves, and by nothing else (ADR 0011).
class CustomerDirectory {
public:
  /// Declares the directory's prepared statements.
  static void prepare(pqxx::connection& connection);

  /// Identifier -> customer id.
  using Resolved = std::map<identity::Identifier, std::string>;

  /// The customer of every message's sender, created when its identifier is
  /// unknown: the new identifier is linked on proof and audited as such
  /// (actor `channel-normalizer`, the message's event). A new customer's id
  /// is derived from the identifier and how often it was released (unlinked
  /// or moved), so a retried or concurrent first message resolves to the
  /// same id, and an identifier an operator unlinked never falls back to
  /// the customer it was taken from.
  [[nodiscard]] static Resolved resolve(pqxx::work& tx, std::span<const InboundMessage* const> messages);

  /// The customers owning `identifiers`; unknown ones are absent. Creates nothing.
  [[nodiscard]] static Resolved find(pqxx::work& tx, const std::set<identity::Identifier>& identifiers);

  /// A message's claim on an identifier another customer owns.
  struct Claim {
    identity::Identifier identifier;
    std::string owner_customer_id;
    std::string claimant_customer_id;
    std::string source_event_id;
  };
  /// Records merge candidates for a person to decide: one open candidate
  /// per (identifier, owner, claimant), later claims counted on it.
  static void record_merge_candidates(pqxx::work& tx, const std::vector<Claim>& claims);

  /// The id of a customer first seen with `identifier` after it was
  /// released `releases` times (0: the id every earlier release derived).
  [[nodiscard]] static std::string new_customer_id(const identity::Identifier& identifier, long releases);
};

} // namespace fte::normalizer
