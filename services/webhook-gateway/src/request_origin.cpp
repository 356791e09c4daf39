#include "request_origin.hpp"

#include <charconv>

#include <boost/url/parse.hpp>

#include "request_helpers.hpp"
#include "text.hpp"

namespace fte::gateway {
namespace {

namespace ip = boost::asio::ip;

// A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; proxies are
// configured (and clients recorded) by their IPv4 form.
ip::address unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

std::optional<ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return unmapped(address);
}

// One X-Forwarded-For entry: an address, optionally "[v6]:port" or
// "v4:port" as some proxies write it.
std::optional<ip::address> parse_forwarded_for(std::string_view entry) {
  entry = trim(entry);
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return parse_address(entry.substr(1, close - 1));
  }
  if (auto address = parse_address(entry)) return address;
  const auto colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    return parse_address(entry.substr(0, colon));
  }
  return std::nullopt;
}

// Every value of a header that may be repeated, joined as one list.
std::string joined_values(const http::Request& request, std::string_view name) {
  std::string out;
  const auto [first, last] = request.equal_range(boost::beast::string_view(name.data(), name.size()));
  for (auto it = first; it != last; ++it) {
    if (!out.empty()) out += ',';
    out.append(it->value().data(), it->value().size());
  }
  return out;
}

std::string_view first_of_list(std::string_view list) { return trim(list.substr(0, list.find(','))); }

// A Host or X-Forwarded-Host value as it may appear in a URL: a name, an
// IPv4 address or a bracketed IPv6 address, and an optional port. Anything
// else (a slash, an @, spaces) could change what the URL means.
bool is_host_and_port(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (const char c : host) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' ||
                    c == '.' || c == ':' || c == '[' || c == ']' || c == '_';
    if (!ok) return false;
  }
  return true;
}

} // namespace

TrustedProxies TrustedProxies::parse(std::string_view list, std::string_view variable) {
  TrustedProxies proxies;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    const auto slash = item.find('/');
    const auto address = parse_address(item.substr(0, slash));
    if (!address) {
      throw ConfigError(std::string(variable), "'" + std::string(item) + "' is not an IP address or CIDR network");
    }
    Network network;
    network.v6 = address->is_v6();
    const unsigned max_prefix = network.v6 ? 128 : 32;
    network.prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const auto digits = item.substr(slash + 1);
      unsigned prefix = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix > max_prefix) {
        throw ConfigError(std::string(variable), "'" + std::string(item) + "' has an invalid prefix length");
      }
      network.prefix = prefix;
    }
    if (network.v6) {
      const auto bytes = address->to_v6().to_bytes();
      std::copy(bytes.begin(), bytes.end(), network.bytes.begin());
    } else {
      const auto bytes = address->to_v4().to_bytes();
      std::copy(bytes.begin(), bytes.end(), network.bytes.begin());
    }
    proxies.networks_.push_back(network);
  }
  return proxies;
}

bool TrustedProxies::contains(const boost::asio::ip::address& address) const {
  const auto plain = unmapped(address);
  std::array<unsigned char, 16> bytes{};
  if (plain.is_v6()) {
    const auto b = plain.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    const auto b = plain.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  }
  for (const auto& network : networks_) {
    if (network.v6 != plain.is_v6()) continue;
    const unsigned whole = network.prefix / 8;
    const unsigned rest = network.prefix % 8;
    bool match = std::equal(bytes.begin(), bytes.begin() + whole, network.bytes.begin());
    if (match && rest != 0) {
      const auto mask = static_cast<unsigned char>(0xFFU << (8 - rest));
      match = (bytes[whole] & mask) == (network.bytes[whole] & mask);
    }
    if (match) return true;
  }
  return false;
}

std::string OriginPolicy::check_base_url(std::string_view url, std::string_view variable) {
  const std::string text(trim(url));
  const auto parsed = boost::urls::parse_absolute_uri(text);
  const auto fail = [&](const std::string& problem) {
    return ConfigError(std::string(variable), problem + ", got '" + text + "'");
  };
  if (!parsed) throw fail("expected an absolute URL such as https://support.example.com");
  if (parsed->scheme() != "https" && parsed->scheme() != "http") throw fail("the scheme must be https or http");
  if (!parsed->has_authority() || parsed->encoded_host().empty()) throw fail("the URL needs a host");
  if (parsed->has_userinfo()) throw fail("the URL must not carry user information");
  if (parsed->has_query() || parsed->has_fragment()) throw fail("the URL must not have a query or a fragment");
  std::string base = text;
  // The request target starts with '/', so a trailing one would double it.
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  return base;
}

OriginPolicy OriginPolicy::from_env(const Environment& env) {
  OriginPolicy policy;
  if (const auto base = env.get("FTE_PUBLIC_BASE_URL"); base && !trim(*base).empty()) {
    policy.public_base_url = check_base_url(*base, "FTE_PUBLIC_BASE_URL");
  }
  policy.trusted_proxies = TrustedProxies::parse(env.get_or("FTE_TRUSTED_PROXIES", ""));
  return policy;
}

RequestOrigin resolve_origin(const OriginPolicy& policy, const http::Request& request,
                             const boost::asio::ip::address& peer) {
  RequestOrigin origin;
  const auto client = unmapped(peer);
  origin.client_address = client.to_string();
  const bool peer_trusted = policy.trusted_proxies.contains(client);

  if (peer_trusted) {
    // Right to left: each trusted proxy vouches for the address to its left;
    // the first address no proxy of ours added is the client.
    const std::string forwarded_for = joined_values(request, "X-Forwarded-For");
    std::string_view rest(forwarded_for);
    while (!rest.empty()) {
      const auto comma = rest.rfind(',');
      const auto entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      if (trim(entry).empty()) continue;
      const auto address = parse_forwarded_for(entry);
      if (!address) break; // garbage: keep the last address a trusted hop vouched for
      origin.client_address = address->to_string();
      if (!policy.trusted_proxies.contains(*address)) break;
    }
  }

  const std::string_view target(request.target().data(), request.target().size());
  if (target.empty() || target.front() != '/') return origin; // absolute-form or '*': no URL of ours
  if (policy.public_base_url) {
    origin.public_url = *policy.public_base_url;
    origin.public_url += target;
    return origin;
  }
  std::string scheme = "http";
  std::string host = header_value(request, boost::beast::http::field::host);
  if (peer_trusted) {
    const auto proto = lower_ascii(first_of_list(joined_values(request, "X-Forwarded-Proto")));
    if (proto == "https" || proto == "http") scheme = proto;
    const std::string forwarded_hosts = joined_values(request, "X-Forwarded-Host");
    if (const auto forwarded_host = first_of_list(forwarded_hosts); !forwarded_host.empty()) {
      host = std::string(forwarded_host);
    }
  }
  if (!is_host_and_port(host)) return origin;
  origin.public_url = scheme + "://" + host;
  origin.public_url += target;
  return origin;
}

} // namespace fte::gateway
