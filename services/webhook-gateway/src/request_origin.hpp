#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "fte/common/config.hpp"
#include "fte/http/server.hpp"

namespace fte::gateway {

/// The addresses whose X-Forwarded-* headers the gateway believes
/// (FTE_TRUSTED_PROXIES): single IPs or CIDR networks, IPv4 and IPv6. Anyone
/// can send those headers; only a proxy we run can be trusted to have set
/// them (docs/adr/0008-twilio-signatures-behind-a-proxy.md).
class TrustedProxies {
public:
  /// Trusts nobody.
  TrustedProxies() = default;

  /// Parses a comma-separated list such as "10.0.0.0/8, 192.0.2.7, ::1,
  /// fd00::/8" (spaces allowed, empty list trusts nobody). Host bits below
  /// the prefix are ignored. @throws ConfigError naming `variable`.
  [[nodiscard]] static TrustedProxies parse(std::string_view list, std::string_view variable = "FTE_TRUSTED_PROXIES");

  /// True when `address` is in one of the networks. An IPv4-mapped IPv6
  /// address (a dual-stack listener's view of an IPv4 peer) counts as IPv4.
  [[nodiscard]] bool contains(const boost::asio::ip::address& address) const;
  [[nodiscard]] bool empty() const noexcept { return networks_.empty(); }

private:
  struct Network {
    std::array<unsigned char, 16> bytes{};
    bool v6 = false;
    unsigned prefix = 0;
  };
  std::vector<Network> networks_;
};

/// How the gateway learns the URL its senders called and who they are.
struct OriginPolicy {
  /// FTE_PUBLIC_BASE_URL without a trailing slash (e.g.
  /// "https://support.example.com"); nullopt when unset, and then the scheme
  /// and host come from trusted forwarded headers or the Host header.
  std::optional<std::string> public_base_url;
  TrustedProxies trusted_proxies;

  /// Reads FTE_PUBLIC_BASE_URL and FTE_TRUSTED_PROXIES. The base URL must be
  /// an absolute http(s) URL with a host, and no user info, query or
  /// fragment (a path prefix is allowed). @throws ConfigError.
  [[nodiscard]] static OriginPolicy from_env(const Environment& env);
  /// The same check for one value. @throws ConfigError naming `variable`.
  [[nodiscard]] static std::string check_base_url(std::string_view url, std::string_view variable);
};

/// What the gateway concludes about one request's origin.
struct RequestOrigin {
  /// The full URL the sender called: the public base URL (or scheme and
  /// host as described above) followed by the request target exactly as
  /// received (path and query). Empty when no host is known.
  std::string public_url;
  /// The client's address: the TCP peer, or, when the peer is a trusted
  /// proxy, the nearest untrusted address in X-Forwarded-For.
  std::string client_address;
};

/// Applies `policy` to a request that arrived from TCP peer `peer`.
/// X-Forwarded-Proto, -Host and -For are ignored unless `peer` is trusted.
[[nodiscard]] RequestOrigin resolve_origin(const OriginPolicy& policy, const http::Request& request,
                                           const boost::asio::ip::address& peer);

} // namespace fte::gateway
