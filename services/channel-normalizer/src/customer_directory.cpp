#include "customer_directory.hpp"

#include "fte/common/ids.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kFindCustomers = "normalizer_find_customers";
constexpr const char* kFindCustomersSql =
    "SELECT i.kind, i.value, i.customer_id::text FROM unnest($1::text[], $2::text[]) AS s(kind, value) "
    "JOIN customer_identifiers i ON i.kind = s.kind AND i.value = s.value";
// How often each identifier was taken from a customer (ADR 0011): only read
// for identifiers nobody owns, that is for new customers.
constexpr const char* kCountReleases = "normalizer_count_releases";
constexpr const char* kCountReleasesSql =
    "SELECT a.kind, a.value, count(*) FROM unnest($1::text[], $2::text[]) AS s(kind, value) "
    "JOIN customer_identity_audit a ON a.kind = s.kind AND a.value = s.value "
    "WHERE a.action IN ('unlink', 'move') GROUP BY a.kind, a.value";
// Sorted inserts: two lanes creating customers take row locks in one order.
constexpr const char* kCreateCustomers = "normalizer_create_customers";
constexpr const char* kCreateCustomersSql =
    "INSERT INTO customers (id, display_name) SELECT id, NULLIF(name, '') "
    "FROM unnest($1::uuid[], $2::text[]) AS c(id, name) ORDER BY id ON CONFLICT (id) DO NOTHING";
// The identifiers this statement really inserted (not those another lane
// linked first) are audited as links on proof, in the same round trip.
constexpr const char* kCreateIdentifiers = "normalizer_create_identifiers";
constexpr const char* kCreateIdentifiersSql =
    "WITH linked AS ("
    " INSERT INTO customer_identifiers (customer_id, kind, value)"
    " SELECT customer_id, kind, value FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(customer_id, kind, value)"
    " ORDER BY kind, value ON CONFLICT (kind, value) DO NOTHING RETURNING customer_id, kind, value) "
    "INSERT INTO customer_identity_audit (action, kind, value, customer_id, actor, reason, source_event_id) "
    "SELECT 'link', l.kind, l.value, l.customer_id, 'channel-normalizer', 'first message from this identifier', "
    "e.event_id FROM linked l JOIN unnest($2::text[], $3::text[], $4::text[]) AS e(kind, value, event_id) "
    "ON e.kind = l.kind AND e.value = l.value";
// Aggregated per key by the caller: ON CONFLICT DO UPDATE may touch a row
// only once per statement.
constexpr const char* kRecordCandidates = "normalizer_record_merge_candidates";
constexpr const char* kRecordCandidatesSql =
    "INSERT INTO customer_merge_candidates (kind, value, owner_customer_id, claimant_customer_id, source_event_id, "
    "last_source_event_id, claims) "
    "SELECT kind, value, owner, claimant, first_event, last_event, claims "
    "FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::int[]) "
    "AS c(kind, value, owner, claimant, first_event, last_event, claims) ORDER BY kind, value, owner, claimant "
    "ON CONFLICT (kind, value, owner_customer_id, claimant_customer_id) WHERE status = 'open' DO UPDATE SET "
    "claims = customer_merge_candidates.claims + EXCLUDED.claims, "
    "last_source_event_id = EXCLUDED.last_source_event_id, last_claimed_at = now()";

void read_into(const pqxx::result& rows, CustomerDirectory::Resolved& out) {
  for (const auto& row : rows) {
    const auto kind = identity::parse_kind(row[0].as<std::string>());
    if (!kind) continue; // the table's CHECK admits no other kind
    out[{*kind, row[1].as<std::string>()}] = row[2].as<std::string>();
  }
}

template <class Identifiers> pqxx::result find_rows(pqxx::work& tx, const Identifiers& identifiers) {
  pg::ArrayLiteral kinds, values;
  for (const identity::Identifier& identifier : identifiers) {
    kinds.add(identity::to_string(identifier.kind));
    values.add(identifier.value);
  }
  return tx.exec_prepared(kFindCustomers, kinds.str(), values.str());
}

} // namespace

void CustomerDirectory::prepare(pqxx::connection& connection) {
  connection.prepare(kFindCustomers, kFindCustomersSql);
  connection.prepare(kCountReleases, kCountReleasesSql);
  connection.prepare(kCreateCustomers, kCreateCustomersSql);
  connection.prepare(kCreateIdentifiers, kCreateIdentifiersSql);
  connection.prepare(kRecordCandidates, kRecordCandidatesSql);
}

std::string CustomerDirectory::new_customer_id(const identity::Identifier& identifier, long releases) {
  // Generation 0 keeps the name every customer created before identifiers
  // could be released was given.
  std::string name = "customer:" + std::string(identity::to_string(identifier.kind)) + ":" + identifier.value;
  if (releases > 0) name += ":" + std::to_string(releases);
  return name_based_uuid(kFteNamespace, name);
}

CustomerDirectory::Resolved CustomerDirectory::resolve(pqxx::work& tx,
                                                       std::span<const InboundMessage* const> messages) {
  // One row per identifier; the first message names a new customer and is
  // the proof its link is audited with.
  std::map<identity::Identifier, const InboundMessage*> unique;
  for (const auto* m : messages)
    unique.try_emplace(m->sender.identifier(), m);
  std::vector<identity::Identifier> wanted;
  wanted.reserve(unique.size());
  for (const auto& [identifier, message] : unique)
    wanted.push_back(identifier);
  Resolved resolved;
  read_into(find_rows(tx, wanted), resolved);
  if (resolved.size() == unique.size()) {
    return resolved;
  }

  std::vector<identity::Identifier> missing;
  pg::ArrayLiteral missing_kinds, missing_values;
  for (const auto& [identifier, message] : unique) {
    if (resolved.contains(identifier)) continue;
    missing.push_back(identifier);
    missing_kinds.add(identity::to_string(identifier.kind));
    missing_values.add(identifier.value);
  }
  std::map<identity::Identifier, long> releases;
  for (const auto& row : tx.exec_prepared(kCountReleases, missing_kinds.str(), missing_values.str())) {
    if (const auto kind = identity::parse_kind(row[0].as<std::string>())) {
      releases[{*kind, row[1].as<std::string>()}] = row[2].as<long>();
    }
  }
  std::map<std::string, const InboundMessage*> by_id; // sorted by id, as the insert wants
  for (const auto& identifier : missing) {
    const auto it = releases.find(identifier);
    by_id.emplace(new_customer_id(identifier, it == releases.end() ? 0 : it->second), unique.at(identifier));
  }
  pg::ArrayLiteral ids, names, id_kinds, id_values, event_ids;
  for (const auto& [id, message] : by_id) {
    ids.add(id);
    names.add(message->sender.display_name);
    id_kinds.add(identity::to_string(message->sender.kind));
    id_values.add(message->sender.address);
    event_ids.add(message->cause->id);
  }
  tx.exec_prepared(kCreateCustomers, ids.str(), names.str());
  tx.exec_prepared(kCreateIdentifiers, ids.str(), id_kinds.str(), id_values.str(), event_ids.str());
  // Another normalizer may have linked an identifier first: read back the winners.
  read_into(find_rows(tx, missing), resolved);
  return resolved;
}

CustomerDirectory::Resolved CustomerDirectory::find(pqxx::work& tx, const std::set<identity::Identifier>& identifiers) {
  Resolved resolved;
  if (!identifiers.empty()) read_into(find_rows(tx, identifiers), resolved);
  return resolved;
}

void CustomerDirectory::record_merge_candidates(pqxx::work& tx, const std::vector<Claim>& claims) {
  if (claims.empty()) return;
  struct Aggregate {
    std::string first_event;
    std::string last_event;
    int claims = 0;
  };
  // Keyed as the open-candidate index is; std::map keeps the lock order sorted.
  std::map<std::tuple<identity::Identifier, std::string, std::string>, Aggregate> merged;
  for (const auto& claim : claims) {
    auto& aggregate = merged[{claim.identifier, claim.owner_customer_id, claim.claimant_customer_id}];
    if (aggregate.claims++ == 0) aggregate.first_event = claim.source_event_id;
    aggregate.last_event = claim.source_event_id;
  }
  pg::ArrayLiteral kinds, values, owners, claimants, first_events, last_events, counts;
  for (const auto& [key, aggregate] : merged) {
    const auto& [identifier, owner, claimant] = key;
    kinds.add(identity::to_string(identifier.kind));
    values.add(identifier.value);
    owners.add(owner);
    claimants.add(claimant);
    first_events.add(aggregate.first_event);
    last_events.add(aggregate.last_event);
    counts.add(static_cast<std::int64_t>(aggregate.claims));
  }
  tx.exec_prepared(kRecordCandidates, kinds.str(), values.str(), owners.str(), claimants.str(), first_events.str(),
                   last_events.str(), counts.str());
}

} // namespace fte::normalizer
