#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "fte/access/api_token.hpp"

namespace fte::access {

/// A token to issue: its name (is_token_name), role, who asks, and how long
/// it lasts (nullopt: until revoked).
struct NewApiToken {
  std::string name;
  Role role = Role::agent;
  std::string created_by;
  std::optional<std::chrono::seconds> lifetime;
};

/// A token as `fte token list` shows it: never the token itself.
struct ApiTokenInfo {
  std::string name;
  Role role = Role::agent;
  std::string created_at; ///< RFC 3339, UTC
  std::string created_by;
  std::optional<std::string> expires_at;
  std::optional<std::string> revoked_at;
  std::optional<std::string> revoked_by;
};

/// A change the data does not allow (a name already in force, a bad name).
class TokenRefused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Issues a token and returns it: the only time it exists outside the
/// caller's hands. @throws TokenRefused when a token in force has that name
/// or the request is malformed; pqxx errors when the database fails.
[[nodiscard]] std::string create_api_token(pqxx::connection& connection, const NewApiToken& request);

/// Tokens newest first; revoked ones only when asked.
[[nodiscard]] std::vector<ApiTokenInfo> list_api_tokens(pqxx::connection& connection, bool include_revoked);

/// Revokes the token in force named `name`; false when there is none.
bool revoke_api_token(pqxx::connection& connection, std::string_view name, std::string_view revoked_by);

/// Who `token` belongs to, when it is in force (known, not revoked, not
/// expired); nullopt otherwise, without a query when it does not have a
/// token's shape. @throws pqxx errors when the database fails.
[[nodiscard]] std::optional<Principal> find_api_token(pqxx::transaction_base& tx, std::string_view token);

} // namespace fte::access
