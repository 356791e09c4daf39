#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::access {

/// What a person or a token may do on the escalation desk (issue 16):
/// an `agent` works conversations; a `supervisor` may also do what only
/// supervisors may (reassign, settings, the knowledge base).
enum class Role { agent, supervisor };

[[nodiscard]] std::string_view to_string(Role role) noexcept;
[[nodiscard]] std::optional<Role> parse_role(std::string_view text) noexcept;
/// Whether a holder of `held` may do what needs `needed`: a supervisor may
/// do everything an agent may.
[[nodiscard]] bool permits(Role held, Role needed) noexcept;

/// Who made a request: a token's name or a person's, with the role.
struct Principal {
  std::string name;
  Role role = Role::agent;
};

/// The secrets fte hands out (API tokens, session cookies): 256 bits from
/// OpenSSL's generator, as 64 lower-case hexadecimal digits.
[[nodiscard]] std::string new_secret();
/// Whether `text` has the shape new_secret() gives.
[[nodiscard]] bool is_secret(std::string_view text) noexcept;

/// Every fte API token starts with this, so secret scanners and people can
/// tell one on sight.
inline constexpr std::string_view kTokenPrefix = "fte_";

/// A new API token: kTokenPrefix and a new_secret(). It is shown once;
/// only its digest is stored.
[[nodiscard]] std::string generate_api_token();

/// Whether `text` has the shape generate_api_token() gives. Checked before
/// any lookup, so junk never reaches the database.
[[nodiscard]] bool is_api_token(std::string_view text) noexcept;

/// What is stored and looked up: the SHA-256 of the whole token in hex. A
/// plain hash is enough (no salt, no slow KDF): the token is 256 random
/// bits, not a password a person chose.
[[nodiscard]] std::string api_token_digest(std::string_view token);

/// Token names: 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter
/// or digit (the same rule as the api_tokens table's CHECK).
[[nodiscard]] bool is_token_name(std::string_view text) noexcept;

} // namespace fte::access
