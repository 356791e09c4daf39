#include "fte/oidc/jwks.hpp"

#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

namespace fte::oidc {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool optional_string_is(const nlohmann::json& object, const char* name, std::string_view expected) {
  const auto it = object.find(name);
  return it == object.end() || (it->is_string() && it->get_ref<const std::string&>() == expected);
}

} // namespace

const RsaPublicKey* KeySet::find(std::string_view kid) const {
  const auto it = keys.find(kid);
  return it == keys.end() ? nullptr : &it->second;
}

std::variant<KeySet, std::string> parse_jwks(std::string_view body) noexcept {
  try {
    if (body.size() > kMaxJwksBytes) return std::string("JWKS document larger than 256 KiB");
    const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded() || !document.is_object()) return std::string("JWKS is not a JSON object");
    const auto keys = document.find("keys");
    if (keys == document.end() || !keys->is_array()) return std::string("JWKS has no keys array");
    KeySet set;
    for (const auto& jwk : *keys) {
      const auto kid = jwk.is_object() ? jwk.find("kid") : jwk.end();
      if (!jwk.is_object() || kid == jwk.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty()) {
        set.skipped.emplace_back("a key without kid");
        continue;
      }
      const auto& id = kid->get_ref<const std::string&>();
      if (!optional_string_is(jwk, "use", "sig") || !optional_string_is(jwk, "alg", "RS256")) {
        set.skipped.push_back("kid " + id + ": not an RS256 signing key");
        continue;
      }
      auto key = RsaPublicKey::from_jwk(jwk);
      if (auto* why = std::get_if<std::string>(&key)) {
        set.skipped.push_back("kid " + id + ": " + *why);
        continue;
      }
      set.keys.insert_or_assign(id, std::get<RsaPublicKey>(std::move(key)));
    }
    if (set.keys.empty()) return std::string("JWKS holds no usable RS256 key");
    return set;
  } catch (const std::exception& e) {
    return std::string("could not read the JWKS: ") + e.what();
  }
}

std::optional<std::chrono::seconds> cache_control_max_age(std::string_view header) noexcept {
  std::optional<std::chrono::seconds> result;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto directive = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (iequals(directive, "no-store") || iequals(directive, "no-cache")) return std::chrono::seconds(0);
    const auto equals = directive.find('=');
    if (equals == std::string_view::npos || !iequals(trim(directive.substr(0, equals)), "max-age")) continue;
    auto value = trim(directive.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    std::uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc::result_out_of_range) {
      seconds = std::numeric_limits<std::uint32_t>::max(); // RFC 9111 5.2.2.1: treat as "very long"
    } else if (ec != std::errc{} || end != value.data() + value.size()) {
      continue;
    }
    seconds = std::min<std::uint64_t>(seconds, std::numeric_limits<std::uint32_t>::max());
    if (!result) result = std::chrono::seconds(static_cast<std::int64_t>(seconds));
  }
  return result;
}

} // namespace fte::oidc
