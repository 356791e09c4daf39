#include "fte/access/api_token.hpp"

#include "fte/common/ids.hpp"
#include "fte/common/text.hpp"

namespace fte::access {
namespace {

constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kMaxNameLength = 63;

bool is_name_start(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

} // namespace

std::string_view to_string(Role role) noexcept { return role == Role::supervisor ? "supervisor" : "agent"; }

std::optional<Role> parse_role(std::string_view text) noexcept {
  if (text == "agent") return Role::agent;
  if (text == "supervisor") return Role::supervisor;
  return std::nullopt;
}

bool permits(Role held, Role needed) noexcept { return held == Role::supervisor || needed == Role::agent; }

std::string new_secret() { return hex_encode(random_bytes(kSecretBytes)); }

bool is_secret(std::string_view text) noexcept {
  if (text.size() != 2 * kSecretBytes) return false;
  for (const char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string generate_api_token() { return std::string(kTokenPrefix) + new_secret(); }

bool is_api_token(std::string_view text) noexcept {
  return text.starts_with(kTokenPrefix) && is_secret(text.substr(kTokenPrefix.size()));
}

std::string api_token_digest(std::string_view token) { return sha256_hex(token); }

bool is_token_name(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxNameLength || !is_name_start(text.front())) return false;
  for (const char c : text)
    if (!is_name_start(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

} // namespace fte::access
