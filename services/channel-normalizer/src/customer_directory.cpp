#include "customer_directory.hpp"

#include "fte/common/ids.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kFindCustomerSql =
    "SELECT customer_id::text FROM customer_identifiers WHERE kind = $1 AND value = $2";
constexpr const char* kCreateCustomerSql =
    "INSERT INTO customers (id, display_name) VALUES ($1::uuid, NULLIF($2, '')) ON CONFLICT (id) DO NOTHING";
constexpr const char* kCreateIdentifierSql =
    "INSERT INTO customer_identifiers (customer_id, kind, value) VALUES ($1::uuid, $2, $3) "
    "ON CONFLICT (kind, value) DO NOTHING";

} // namespace

std::string resolve_customer(pqxx::work& tx, const Sender& sender) {
  if (const auto found = tx.exec_params(kFindCustomerSql, sender.kind, sender.address); !found.empty()) {
    return found[0][0].as<std::string>();
  }
  const auto id = name_based_uuid(kFteNamespace, "customer:" + sender.kind + ":" + sender.address);
  tx.exec_params(kCreateCustomerSql, id, sender.display_name);
  tx.exec_params(kCreateIdentifierSql, id, sender.kind, sender.address);
  // Another normalizer may have linked the identifier first: read back the winner.
  return tx.exec_params1(kFindCustomerSql, sender.kind, sender.address)[0].as<std::string>();
}

} // namespace fte::normalizer
