#include "request_origin.hpp"

#include <gtest/gtest.h>

#include "twilio_signature.hpp"
#include "twilio_vectors.hpp"

namespace fte::gateway {
namespace {

namespace ip = boost::asio::ip;
using namespace test_vectors;

http::Request request(std::string_view target, std::initializer_list<std::pair<std::string, std::string>> headers) {
  http::Request r{boost::beast::http::verb::post, std::string(target), 11};
  for (const auto& [name, value] : headers)
    r.insert(name, value);
  return r;
}

ip::address addr(const char* text) { return ip::make_address(text); }

OriginPolicy policy(std::optional<std::string> base, std::string_view proxies) {
  OriginPolicy p;
  p.public_base_url = std::move(base);
  p.trusted_proxies = TrustedProxies::parse(proxies);
  return p;
}

TEST(TrustedProxies, ParsesAddressesAndNetworksOfBothFamilies) {
  const auto proxies = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.7 ,::1, fd00::/8, 198.51.100.77/24,");
  EXPECT_TRUE(proxies.contains(addr("10.1.2.3")));
  EXPECT_TRUE(proxies.contains(addr("192.0.2.7")));
  EXPECT_FALSE(proxies.contains(addr("192.0.2.8")));
  EXPECT_TRUE(proxies.contains(addr("::1")));
  EXPECT_TRUE(proxies.contains(addr("fd12:3456::1")));
  EXPECT_FALSE(proxies.contains(addr("fe80::1")));
  EXPECT_TRUE(proxies.contains(addr("198.51.100.1"))); // host bits of the entry ignored
  EXPECT_FALSE(proxies.contains(addr("198.51.101.1")));
  EXPECT_FALSE(proxies.contains(addr("11.0.0.1")));
  // A dual-stack listener's view of an IPv4 peer.
  EXPECT_TRUE(proxies.contains(addr("::ffff:10.9.8.7")));
  // The families do not mix: ::a01:203 is not 10.1.2.3.
  EXPECT_FALSE(proxies.contains(addr("::a01:203")));

  const auto odd_prefix = TrustedProxies::parse("172.16.0.0/12, 2001:db8::/33");
  EXPECT_TRUE(odd_prefix.contains(addr("172.31.255.255")));
  EXPECT_FALSE(odd_prefix.contains(addr("172.32.0.0")));
  EXPECT_TRUE(odd_prefix.contains(addr("2001:db8:7fff::1")));
  EXPECT_FALSE(odd_prefix.contains(addr("2001:db8:8000::1")));

  EXPECT_TRUE(TrustedProxies::parse("0.0.0.0/0").contains(addr("203.0.113.9")));
  EXPECT_TRUE(TrustedProxies::parse("").empty());
  EXPECT_FALSE(TrustedProxies().contains(addr("127.0.0.1")));
}

TEST(TrustedProxies, RefusesWhatIsNotAnAddress) {
  for (const char* bad :
       {"10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/x", "proxy.internal", "10.0.0", "1.2.3.4/8/9"}) {
    EXPECT_THROW((void)TrustedProxies::parse(bad), ConfigError) << bad;
  }
}

TEST(OriginPolicy, ChecksThePublicBaseUrl) {
  EXPECT_EQ(OriginPolicy::check_base_url("https://support.example.com", "V"), "https://support.example.com");
  EXPECT_EQ(OriginPolicy::check_base_url("https://support.example.com/", "V"), "https://support.example.com");
  EXPECT_EQ(OriginPolicy::check_base_url("http://gw.example:8080/fte/", "V"), "http://gw.example:8080/fte");
  for (const char* bad : {"support.example.com", "ftp://x.example", "https://", "https://u:p@x.example",
                          "https://x.example/?a=1", "https://x.example/#f", "/relative"}) {
    EXPECT_THROW((void)OriginPolicy::check_base_url(bad, "V"), ConfigError) << bad;
  }
  using Vars = std::map<std::string, std::string, std::less<>>;
  const Environment env(
      Vars{{"FTE_PUBLIC_BASE_URL", "https://support.example.com/"}, {"FTE_TRUSTED_PROXIES", "10.0.0.0/8"}});
  const auto p = OriginPolicy::from_env(env);
  EXPECT_EQ(p.public_base_url, "https://support.example.com");
  EXPECT_TRUE(p.trusted_proxies.contains(addr("10.0.0.1")));
  EXPECT_FALSE(OriginPolicy::from_env(Environment(Vars{})).public_base_url);
  EXPECT_THROW((void)OriginPolicy::from_env(Environment(Vars{{"FTE_TRUSTED_PROXIES", "nope"}})), ConfigError);
}

TEST(RequestOrigin, ConfiguredBaseUrlPlusTheTargetAsReceived) {
  const auto p = policy("https://support.example.com", "10.0.0.0/8");
  const auto r = request("/webhooks/twilio/whatsapp?b=2&a=%2F1",
                         {{"Host", "gateway.internal:8080"}, {"X-Forwarded-Host", "evil.example"}});
  const auto origin = resolve_origin(p, r, addr("10.0.0.5"));
  // The query is kept exactly as received: Twilio signed those bytes.
  EXPECT_EQ(origin.public_url, "https://support.example.com/webhooks/twilio/whatsapp?b=2&a=%2F1");
  EXPECT_EQ(origin.client_address, "10.0.0.5");
}

TEST(RequestOrigin, ForwardedHeadersFromATrustedProxy) {
  const auto p = policy(std::nullopt, "10.0.0.0/8, 2001:db8::/32");
  const auto r = request("/webhooks/twilio/status", {{"Host", "gateway.internal:8080"},
                                                     {"X-Forwarded-Proto", "https"},
                                                     {"X-Forwarded-Host", "support.example.com"},
                                                     {"X-Forwarded-For", "203.0.113.9, 10.0.0.7"}});
  const auto origin = resolve_origin(p, r, addr("10.0.0.5"));
  EXPECT_EQ(origin.public_url, "https://support.example.com/webhooks/twilio/status");
  // 10.0.0.7 is one of ours; 203.0.113.9 is the first address none of ours added.
  EXPECT_EQ(origin.client_address, "203.0.113.9");

  const auto v6 =
      resolve_origin(p, request("/x", {{"Host", "h"}, {"X-Forwarded-For", "[2001:db9::1]:4711"}}), addr("2001:db8::2"));
  EXPECT_EQ(v6.client_address, "2001:db9::1");
  const auto v4_port =
      resolve_origin(p, request("/x", {{"Host", "h"}, {"X-Forwarded-For", "198.51.100.1:4711"}}), addr("10.1.1.1"));
  EXPECT_EQ(v4_port.client_address, "198.51.100.1");
}

TEST(RequestOrigin, ForwardedHeadersFromAnyoneElseAreIgnored) {
  const auto p = policy(std::nullopt, "10.0.0.0/8");
  const auto r = request("/webhooks/twilio/whatsapp", {{"Host", "support.example.com"},
                                                       {"X-Forwarded-Proto", "https"},
                                                       {"X-Forwarded-Host", "evil.example"},
                                                       {"X-Forwarded-For", "10.0.0.1"}});
  const auto origin = resolve_origin(p, r, addr("203.0.113.50"));
  EXPECT_EQ(origin.public_url, "http://support.example.com/webhooks/twilio/whatsapp");
  EXPECT_EQ(origin.client_address, "203.0.113.50");
}

TEST(RequestOrigin, ForgedForwardedForBehindATrustedProxy) {
  // The client wrote its own X-Forwarded-For; our proxy appended the real
  // address. Only the entries our proxies vouch for are walked past.
  const auto p = policy(std::nullopt, "10.0.0.0/8");
  auto r = request("/x", {{"Host", "h"}, {"X-Forwarded-For", "10.0.0.99, 198.51.100.23"}});
  EXPECT_EQ(resolve_origin(p, r, addr("10.0.0.5")).client_address, "198.51.100.23");
  // Two header lines are one list, in order.
  r = request("/x", {{"Host", "h"}, {"X-Forwarded-For", "192.0.2.1"}, {"X-Forwarded-For", "10.0.0.8"}});
  EXPECT_EQ(resolve_origin(p, r, addr("10.0.0.5")).client_address, "192.0.2.1");
  // Garbage stops the walk at the last address a trusted hop vouched for.
  r = request("/x", {{"Host", "h"}, {"X-Forwarded-For", "192.0.2.1, unknown, 10.0.0.8"}});
  EXPECT_EQ(resolve_origin(p, r, addr("10.0.0.5")).client_address, "10.0.0.8");
  // All trusted: the leftmost.
  r = request("/x", {{"Host", "h"}, {"X-Forwarded-For", "10.0.0.1, 10.0.0.2"}});
  EXPECT_EQ(resolve_origin(p, r, addr("10.0.0.5")).client_address, "10.0.0.1");
}

TEST(RequestOrigin, NoUsableHostMeansNoUrl) {
  const auto p = policy(std::nullopt, "");
  EXPECT_EQ(resolve_origin(p, request("/x", {}), addr("127.0.0.1")).public_url, "");
  EXPECT_EQ(resolve_origin(p, request("/x", {{"Host", "a.example/evil?"}}), addr("127.0.0.1")).public_url, "");
  EXPECT_EQ(resolve_origin(p, request("/x", {{"Host", "user@a.example"}}), addr("127.0.0.1")).public_url, "");
  EXPECT_EQ(resolve_origin(p, request("/x", {{"Host", "[::1]:8080"}}), addr("127.0.0.1")).public_url,
            "http://[::1]:8080/x");
  // An absolute-form target is not a path of ours.
  const auto base = policy("https://support.example.com", "");
  EXPECT_EQ(resolve_origin(base, request("http://x.example/y", {}), addr("127.0.0.1")).public_url, "");
  // A dual-stack listener's IPv4 peer is recorded in IPv4 form.
  EXPECT_EQ(resolve_origin(p, request("/x", {}), addr("::ffff:192.0.2.33")).client_address, "192.0.2.33");
}

// End to end over the pieces: a request Twilio signed for its public URL,
// arriving through a TLS-terminating proxy as plain HTTP to an internal host.
TEST(RequestOrigin, SignatureValidBehindATrustedProxyOnly) {
  const TwilioSignatureValidator validator({std::string(kToken)});
  const auto params = parse_form_fields(kMessageBody).value();
  const auto r = request(
      "/webhooks/twilio/whatsapp",
      {{"Host", "gateway.internal:8080"}, {"X-Forwarded-Proto", "https"}, {"X-Forwarded-Host", "support.example.com"}});

  const auto trusted = resolve_origin(policy(std::nullopt, "10.0.0.0/8"), r, addr("10.0.0.5"));
  EXPECT_TRUE(validator.valid_form(trusted.public_url, params, kMessageSignature)) << trusted.public_url;

  const auto untrusted = resolve_origin(policy(std::nullopt, "10.0.0.0/8"), r, addr("192.0.2.1"));
  EXPECT_FALSE(validator.valid_form(untrusted.public_url, params, kMessageSignature)) << untrusted.public_url;

  // A configured base URL needs no forwarded headers at all.
  const auto configured =
      resolve_origin(policy("https://support.example.com", ""),
                     request("/webhooks/twilio/whatsapp", {{"Host", "gateway.internal:8080"}}), addr("192.0.2.1"));
  EXPECT_TRUE(validator.valid_form(configured.public_url, params, kMessageSignature));
  // A wrong one fails, as it must.
  const auto wrong = resolve_origin(policy("https://support.example.org", ""), request("/webhooks/twilio/whatsapp", {}),
                                    addr("192.0.2.1"));
  EXPECT_FALSE(validator.valid_form(wrong.public_url, params, kMessageSignature));
}

} // namespace
} // namespace fte::gateway
