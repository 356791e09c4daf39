#include "twilio_signature.hpp"

#include <algorithm>
#include <cctype>

#include <gtest/gtest.h>

#include "form_fields.hpp"
#include "twilio_vectors.hpp"

namespace fte::gateway {
namespace {

using namespace test_vectors;

FormFields form(std::string_view body) {
  auto fields = parse_form_fields(body);
  EXPECT_TRUE(fields) << body;
  return fields.value_or(FormFields{});
}

std::string with_query(std::string_view url, std::string_view more) {
  return std::string(url) + (std::string(url).find('?') == std::string::npos ? "?" : "&") + std::string(more);
}

TEST(TwilioSignature, ComputesTwilioPythonsVectors) {
  const auto params = form(kVectorBody);
  EXPECT_EQ(twilio_signature(kVectorToken, kVectorUrl, params), kVectorSignature);
  EXPECT_EQ(twilio_signature(kVectorToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params),
            kVectorSignatureWithPort);
  EXPECT_EQ(sha256_hex(kVectorJsonBody), kVectorJsonHash);
  EXPECT_EQ(twilio_signature(kVectorToken, with_query(kVectorUrl, "bodySHA256=" + std::string(kVectorJsonHash)), {}),
            kVectorJsonSignature);
}

TEST(TwilioSignature, AcceptsTheUrlWithAndWithoutTheDefaultPort) {
  const TwilioSignatureValidator validator({std::string(kVectorToken)});
  const auto params = form(kVectorBody);
  // Signed without the port: the URL as called, and with :443 added.
  EXPECT_TRUE(validator.valid_form(kVectorUrl, params, kVectorSignature));
  EXPECT_TRUE(validator.valid_form("https://mycompany.com:443/myapp.php?foo=1&bar=2", params, kVectorSignature));
  // Signed with the port: the URL as called, and with the port removed.
  EXPECT_TRUE(validator.valid_form(kVectorUrl, params, kVectorSignatureWithPort));
  EXPECT_TRUE(
      validator.valid_form("https://mycompany.com:443/myapp.php?foo=1&bar=2", params, kVectorSignatureWithPort));
  // http's default port is 80.
  EXPECT_TRUE(validator.valid_form("http://mycompany.com/myapp.php?foo=1&bar=2", params, kVectorHttpPort80Signature));
  // Another port is not a variant of the default one.
  EXPECT_FALSE(
      validator.valid_form("https://mycompany.com:8443/myapp.php?foo=1&bar=2", params, kVectorSignatureWithPort));
}

TEST(TwilioSignature, UrlVariants) {
  EXPECT_EQ(twilio_url_variants("https://a.example/x?y=1"),
            (std::vector<std::string>{"https://a.example/x?y=1", "https://a.example:443/x?y=1"}));
  EXPECT_EQ(twilio_url_variants("http://a.example/x"),
            (std::vector<std::string>{"http://a.example/x", "http://a.example:80/x"}));
  EXPECT_EQ(twilio_url_variants("https://a.example:8443/x"),
            (std::vector<std::string>{"https://a.example:8443/x", "https://a.example/x"}));
  EXPECT_EQ(twilio_url_variants("https://[2001:db8::1]/x"),
            (std::vector<std::string>{"https://[2001:db8::1]/x", "https://[2001:db8::1]:443/x"}));
  EXPECT_EQ(twilio_url_variants("not a url"), (std::vector<std::string>{"not a url"}));
  EXPECT_EQ(twilio_url_variants(""), (std::vector<std::string>{""}));
}

TEST(TwilioSignature, RejectsWrongUrlTamperedParametersAndWrongTokens) {
  const TwilioSignatureValidator validator({std::string(kVectorToken)});
  const auto params = form(kVectorBody);
  EXPECT_FALSE(validator.valid_form("https://mycompany.com/myapp.php?foo=1&bar=3", params, kVectorSignature));
  EXPECT_FALSE(validator.valid_form("https://evil.example/myapp.php?foo=1&bar=2", params, kVectorSignature));
  EXPECT_FALSE(validator.valid_form("http://mycompany.com/myapp.php?foo=1&bar=2", params, kVectorSignature));
  EXPECT_FALSE(validator.valid_form("https://mycompany.com/myapp.php", params, kVectorSignature));

  auto tampered = params;
  tampered[2].second = "1235"; // Digits
  EXPECT_FALSE(validator.valid_form(kVectorUrl, tampered, kVectorSignature));
  auto added = params;
  added.emplace_back("Extra", "1");
  EXPECT_FALSE(validator.valid_form(kVectorUrl, added, kVectorSignature));
  auto dropped = params;
  dropped.pop_back();
  EXPECT_FALSE(validator.valid_form(kVectorUrl, dropped, kVectorSignature));
  // A value moved to another name keeps the concatenation's letters but not its text.
  auto renamed = params;
  renamed[0].first = "CallSidX";
  EXPECT_FALSE(validator.valid_form(kVectorUrl, renamed, kVectorSignature));

  EXPECT_FALSE(validator.valid_form(kVectorUrl, params, ""));
  EXPECT_FALSE(validator.valid_form(kVectorUrl, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));   // truncated
  EXPECT_FALSE(validator.valid_form(kVectorUrl, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=x")); // longer
  EXPECT_FALSE(validator.valid_form(kVectorUrl, params, "rsoydt4t1cutdk1pdd93/vvr8b8="));  // case matters

  const TwilioSignatureValidator other({"54321"});
  EXPECT_FALSE(other.valid_form(kVectorUrl, params, kVectorSignature));
}

TEST(TwilioSignature, ParameterOrderOnTheWireDoesNotMatter) {
  const TwilioSignatureValidator validator({std::string(kVectorToken)});
  auto params = form(kVectorBody);
  std::reverse(params.begin(), params.end());
  EXPECT_TRUE(validator.valid_form(kVectorUrl, params, kVectorSignature));
}

TEST(TwilioSignature, AcceptsTheCurrentAndThePreviousToken) {
  const auto params = form(kMessageBody);
  const TwilioSignatureValidator rotating({std::string(kToken), std::string(kPreviousToken)});
  EXPECT_TRUE(rotating.valid_form(kMessageUrl, params, kMessageSignature));
  EXPECT_TRUE(rotating.valid_form(kMessageUrl, params, kMessageSignaturePrevious));
  const TwilioSignatureValidator current_only({std::string(kToken), ""});
  EXPECT_TRUE(current_only.configured());
  EXPECT_FALSE(current_only.valid_form(kMessageUrl, params, kMessageSignaturePrevious));
  const TwilioSignatureValidator none({"", ""});
  EXPECT_FALSE(none.configured());
  EXPECT_FALSE(none.valid_form(kMessageUrl, params, kMessageSignature));
}

TEST(TwilioSignature, MessagingServiceAndMediaRequestsAreSignedTheSameWay) {
  const TwilioSignatureValidator validator({std::string(kToken)});
  EXPECT_TRUE(validator.valid_form(kMessageUrl, form(kMessageBody), kMessageSignature));
  EXPECT_TRUE(validator.valid_form(kStatusUrl, form(kStatusBody), kStatusSignature));
  // The status callback's signature does not fit the message route's URL.
  EXPECT_FALSE(validator.valid_form(kMessageUrl, form(kStatusBody), kStatusSignature));
  // A media URL swapped for another is caught.
  auto params = form(kMessageBody);
  for (auto& [name, value] : params) {
    if (name == "MediaUrl1") value = "https://evil.example/malware.pdf";
  }
  EXPECT_FALSE(validator.valid_form(kMessageUrl, params, kMessageSignature));
}

TEST(TwilioSignature, RepeatedNamesKeepEveryValue) {
  const auto params = form(kRepeatedBody);
  ASSERT_EQ(params.size(), 5U);
  EXPECT_EQ(twilio_signed_text(kRepeatedUrl, params), kRepeatedSignedText);
  EXPECT_EQ(twilio_signature(kToken, kRepeatedUrl, params), kRepeatedSignatureSorted);
  const TwilioSignatureValidator validator({std::string(kToken)});
  EXPECT_TRUE(validator.valid_form(kRepeatedUrl, params, kRepeatedSignatureSorted));
  EXPECT_TRUE(validator.valid_form(kRepeatedUrl, params, kRepeatedSignatureUnique));
  EXPECT_TRUE(validator.valid_form(kRepeatedUrl, params, kRepeatedSignatureReceived));
  // Dropping one of the repeated values is tampering.
  auto fewer = params;
  fewer.erase(fewer.begin() + 2); // Tag=alpha
  EXPECT_FALSE(validator.valid_form(kRepeatedUrl, fewer, kRepeatedSignatureSorted));
  EXPECT_FALSE(validator.valid_form(kRepeatedUrl, fewer, kRepeatedSignatureReceived));
  // Only the last value kept (what a plain map does) is not what was signed.
  FormFields last_only = {params[0], params[3], params[4]};
  EXPECT_FALSE(validator.valid_form(kRepeatedUrl, last_only, kRepeatedSignatureSorted));
}

TEST(TwilioSignature, JsonBodiesAreBoundByBodySha256) {
  const TwilioSignatureValidator validator({std::string(kVectorToken)});
  const auto url = with_query(kVectorUrl, "bodySHA256=" + std::string(kVectorJsonHash));
  EXPECT_TRUE(validator.valid_body(url, kVectorJsonBody, kVectorJsonSignature));
  // The hash may be written in upper case.
  std::string upper(kVectorJsonHash);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  const auto upper_url = with_query(kVectorUrl, "bodySHA256=" + upper);
  EXPECT_FALSE(validator.valid_body(upper_url, kVectorJsonBody, kVectorJsonSignature)); // the URL differs: unsigned
  EXPECT_TRUE(validator.valid_body(upper_url, kVectorJsonBody, twilio_signature(kVectorToken, upper_url, {})));
  // A different body under a valid URL signature: the hash no longer matches.
  EXPECT_FALSE(validator.valid_body(url, R"({"property": "value", "boolean": false})", kVectorJsonSignature));
  EXPECT_FALSE(validator.valid_body(url, "", kVectorJsonSignature));
  // No bodySHA256: the body would be unauthenticated, so it is refused even
  // with a valid signature of the URL alone.
  EXPECT_FALSE(validator.valid_body(kVectorUrl, kVectorJsonBody, twilio_signature(kVectorToken, kVectorUrl, {})));
  EXPECT_FALSE(validator.valid_body(with_query(kVectorUrl, "bodySHA256="), "",
                                    twilio_signature(kVectorToken, with_query(kVectorUrl, "bodySHA256="), {})));
  // The port variants apply here too.
  const auto with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256=" + std::string(kVectorJsonHash);
  EXPECT_TRUE(validator.valid_body(with_port, kVectorJsonBody, kVectorJsonSignature));
}

} // namespace
} // namespace fte::gateway
