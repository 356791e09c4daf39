#include "fte/access/token_store.hpp"

#include "fte/common/ids.hpp"

namespace fte::access {
namespace {

constexpr const char* kTimeFormat = R"(to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";

std::string utc(const char* column) {
  std::string out(kTimeFormat);
  out.replace(out.find("%s"), 2, column);
  return out;
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::string>();
}

} // namespace

std::string create_api_token(pqxx::connection& connection, const NewApiToken& request) {
  if (!is_token_name(request.name)) {
    throw TokenRefused("'" + request.name +
                       "' is not a token name (1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit)");
  }
  if (request.created_by.empty()) throw TokenRefused("a token needs the name of who creates it");
  if (request.lifetime && request.lifetime->count() <= 0) throw TokenRefused("a token's lifetime must be positive");
  auto token = generate_api_token();
  pqxx::work tx(connection);
  // The partial unique index decides a race between two creators; this check
  // only gives the usual case a clear message.
  if (!tx.exec_params("SELECT 1 FROM api_tokens WHERE name = $1 AND revoked_at IS NULL", request.name).empty()) {
    throw TokenRefused("a token named '" + request.name + "' is in force; revoke it first");
  }
  const std::optional<long long> seconds =
      request.lifetime ? std::optional<long long>(request.lifetime->count()) : std::nullopt;
  tx.exec_params("INSERT INTO api_tokens (id, name, role, digest, created_by, expires_at) "
                 "VALUES ($1, $2, $3, $4, $5, clock_timestamp() + make_interval(secs => $6::bigint))",
                 random_uuid(), request.name, std::string(to_string(request.role)), api_token_digest(token),
                 request.created_by, seconds);
  tx.commit();
  return token;
}

std::vector<ApiTokenInfo> list_api_tokens(pqxx::connection& connection, bool include_revoked) {
  pqxx::read_transaction tx(connection);
  const std::string sql = "SELECT name, role, " + utc("created_at") + ", created_by, " + utc("expires_at") + ", " +
                          utc("revoked_at") +
                          ", revoked_by FROM api_tokens WHERE $1 OR revoked_at IS NULL ORDER BY created_at DESC, name";
  std::vector<ApiTokenInfo> tokens;
  for (const auto& row : tx.exec_params(sql, include_revoked)) {
    tokens.push_back({row[0].as<std::string>(), parse_role(row[1].as<std::string>()).value_or(Role::agent),
                      row[2].as<std::string>(), row[3].as<std::string>(), optional_text(row[4]), optional_text(row[5]),
                      optional_text(row[6])});
  }
  return tokens;
}

bool revoke_api_token(pqxx::connection& connection, std::string_view name, std::string_view revoked_by) {
  if (revoked_by.empty()) throw TokenRefused("revoking a token needs the name of who revokes it");
  pqxx::work tx(connection);
  const auto rows = tx.exec_params("UPDATE api_tokens SET revoked_at = clock_timestamp(), revoked_by = $2 "
                                   "WHERE name = $1 AND revoked_at IS NULL",
                                   std::string(name), std::string(revoked_by));
  tx.commit();
  return rows.affected_rows() > 0;
}

std::optional<Principal> find_api_token(pqxx::transaction_base& tx, std::string_view token) {
  if (!is_api_token(token)) return std::nullopt;
  const auto rows = tx.exec_params("SELECT name, role FROM api_tokens WHERE digest = $1 AND revoked_at IS NULL "
                                   "AND (expires_at IS NULL OR expires_at > clock_timestamp())",
                                   api_token_digest(token));
  if (rows.empty()) return std::nullopt;
  const auto role = parse_role(rows[0][1].as<std::string>());
  if (!role) return std::nullopt; // the table's CHECK makes this unreachable
  return Principal{rows[0][0].as<std::string>(), *role};
}

} // namespace fte::access
