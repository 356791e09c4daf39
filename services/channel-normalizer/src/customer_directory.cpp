#include "customer_directory.hpp"

#include "fte/common/ids.hpp"
#include "fte/pg/array_literal.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kFindCustomers = "normalizer_find_customers";
constexpr const char* kFindCustomersSql =
    "SELECT i.kind, i.value, i.customer_id::text FROM unnest($1::text[], $2::text[]) AS s(kind, value) "
    "JOIN customer_identifiers i ON i.kind = s.kind AND i.value = s.value";
// Sorted inserts: two lanes creating customers take row locks in one order.
constexpr const char* kCreateCustomers = "normalizer_create_customers";
constexpr const char* kCreateCustomersSql =
    "INSERT INTO customers (id, display_name) SELECT id, NULLIF(name, '') "
    "FROM unnest($1::uuid[], $2::text[]) AS c(id, name) ORDER BY id ON CONFLICT (id) DO NOTHING";
constexpr const char* kCreateIdentifiers = "normalizer_create_identifiers";
constexpr const char* kCreateIdentifiersSql =
    "INSERT INTO customer_identifiers (customer_id, kind, value) "
    "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS i(customer_id, kind, value) ORDER BY kind, value "
    "ON CONFLICT (kind, value) DO NOTHING";

void read_into(const pqxx::result& rows, CustomerDirectory::Resolved& out) {
  for (const auto& row : rows)
    out[{row[0].as<std::string>(), row[1].as<std::string>()}] = row[2].as<std::string>();
}

} // namespace

void CustomerDirectory::prepare(pqxx::connection& connection) {
  connection.prepare(kFindCustomers, kFindCustomersSql);
  connection.prepare(kCreateCustomers, kCreateCustomersSql);
  connection.prepare(kCreateIdentifiers, kCreateIdentifiersSql);
}

CustomerDirectory::Resolved CustomerDirectory::resolve(pqxx::work& tx, const std::vector<Sender>& senders) {
  // One row per identifier; the first sender's display name names a new customer.
  std::map<std::pair<std::string, std::string>, const Sender*> unique;
  for (const auto& s : senders)
    unique.try_emplace({s.kind, s.address}, &s);
  pg::ArrayLiteral kinds, values;
  for (const auto& [key, sender] : unique) {
    kinds.add(key.first);
    values.add(key.second);
  }
  Resolved resolved;
  read_into(tx.exec_prepared(kFindCustomers, kinds.str(), values.str()), resolved);
  if (resolved.size() == unique.size()) {
    return resolved;
  }
  pg::ArrayLiteral ids, names, id_kinds, id_values, missing_kinds, missing_values;
  std::map<std::string, const Sender*> by_id; // sorted by id, as the insert wants
  for (const auto& [key, sender] : unique) {
    if (resolved.contains(key)) continue;
    by_id.emplace(name_based_uuid(kFteNamespace, "customer:" + key.first + ":" + key.second), sender);
    missing_kinds.add(key.first);
    missing_values.add(key.second);
  }
  for (const auto& [id, sender] : by_id) {
    ids.add(id);
    names.add(sender->display_name);
    id_kinds.add(sender->kind);
    id_values.add(sender->address);
  }
  tx.exec_prepared(kCreateCustomers, ids.str(), names.str());
  tx.exec_prepared(kCreateIdentifiers, ids.str(), id_kinds.str(), id_values.str());
  // Another normalizer may have linked an identifier first: read back the winners.
  read_into(tx.exec_prepared(kFindCustomers, missing_kinds.str(), missing_values.str()), resolved);
  return resolved;
}

} // namespace fte::normalizer
