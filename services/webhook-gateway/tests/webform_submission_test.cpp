#include "webform_submission.hpp"

#include <gtest/gtest.h>

namespace fte::gateway {
namespace {

WebformSubmission ok(const std::variant<WebformSubmission, ClientError>& parsed) {
  if (const auto* error = std::get_if<ClientError>(&parsed)) {
    ADD_FAILURE() << "unexpected error " << error->code << ": " << error->message;
  }
  return std::holds_alternative<WebformSubmission>(parsed) ? std::get<WebformSubmission>(parsed) : WebformSubmission{};
}

ClientError error(const std::variant<WebformSubmission, ClientError>& parsed) {
  EXPECT_TRUE(std::holds_alternative<ClientError>(parsed)) << "expected a client error";
  return std::holds_alternative<ClientError>(parsed) ? std::get<ClientError>(parsed) : ClientError{};
}

TEST(Webform, ParsesJsonAndNormalises) {
  const auto s = ok(parse_webform("application/json; charset=utf-8",
                                  R"({"name":" Ada ","email":" Ada@Example.COM ","subject":"Hi","message":"Hello ✓",
                                      "category":"billing","priority":"HIGH"})"));
  EXPECT_EQ(s.name, "Ada");
  EXPECT_EQ(s.email, "ada@example.com");
  EXPECT_EQ(s.message, "Hello ✓");
  EXPECT_EQ(s.category, "billing");
  EXPECT_EQ(s.priority, "high");
}

TEST(Webform, ParsesFormEncodedWithPlusAsSpace) {
  const auto s = ok(parse_webform("application/x-www-form-urlencoded",
                                  "name=Grace+Hopper&email=grace%40example.com&subject=Bug&message=It%27s+a+moth%21"));
  EXPECT_EQ(s.name, "Grace Hopper");
  EXPECT_EQ(s.email, "grace@example.com");
  EXPECT_EQ(s.message, "It's a moth!");
  EXPECT_FALSE(s.category);
}

TEST(Webform, NamesTheMissingOrBadField) {
  auto e = error(parse_webform("application/json", R"({"email":"a@b.co","subject":"s","message":"m"})"));
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.code, "missing_field");
  EXPECT_EQ(e.field, "name");

  e = error(parse_webform("application/json", R"({"name":"n","email":"not-an-email","subject":"s","message":"m"})"));
  EXPECT_EQ(e.code, "invalid_email");
  EXPECT_EQ(e.field, "email");

  e = error(parse_webform("application/json", R"({"name":"n","email":"a@b.co","subject":"s","message":"   "})"));
  EXPECT_EQ(e.code, "missing_field");
  EXPECT_EQ(e.field, "message");

  e = error(parse_webform("application/json", R"({"name":5,"email":"a@b.co","subject":"s","message":"m"})"));
  EXPECT_EQ(e.code, "invalid_field");

  e = error(parse_webform("application/json",
                          R"({"name":"n","email":"a@b.co","subject":"s","message":"m","priority":"asap"})"));
  EXPECT_EQ(e.code, "invalid_priority");
}

TEST(Webform, EnforcesLengthsInCharactersNotBytes) {
  const std::string accents(200, 'a');
  std::string two_hundred_euros;
  for (int i = 0; i < 200; ++i)
    two_hundred_euros += "€"; // 3 bytes each
  nlohmann::json body = {{"name", two_hundred_euros}, {"email", "a@b.co"}, {"subject", "s"}, {"message", "m"}};
  ok(parse_webform("application/json", body.dump()));
  body["name"] = two_hundred_euros + "€";
  const auto e = error(parse_webform("application/json", body.dump()));
  EXPECT_EQ(e.code, "field_too_long");
  EXPECT_EQ(e.field, "name");
}

TEST(Webform, RejectsBadBodiesAndMediaTypes) {
  EXPECT_EQ(error(parse_webform("application/json", "{not json")).code, "invalid_json");
  EXPECT_EQ(error(parse_webform("application/json", "[1]")).code, "invalid_json");
  const auto media = error(parse_webform("text/plain", "hello"));
  EXPECT_EQ(media.status, http::Status::unsupported_media_type);
  EXPECT_EQ(error(parse_webform("application/x-www-form-urlencoded", "name=a&name=b")).code, "duplicate_field");
  EXPECT_EQ(
      error(parse_webform("application/x-www-form-urlencoded", "name=%ff%fe&email=a%40b.co&subject=s&message=m")).code,
      "invalid_encoding");
  const std::string with_nul("name=a\0b&email=a%40b.co&subject=s&message=m", 44);
  EXPECT_EQ(error(parse_webform("application/x-www-form-urlencoded", with_nul)).code, "invalid_form");
  // A view into a larger buffer must be parsed by its own length only.
  const std::string buffer = "name=Ada&email=a%40b.co&subject=s&message=hi&priority=URGENT-NOT-PART-OF-IT";
  const auto s = ok(parse_webform("application/x-www-form-urlencoded", std::string_view(buffer).substr(0, 44)));
  EXPECT_EQ(s.message, "hi");
  EXPECT_FALSE(s.priority);
}

TEST(Webform, PhoneIsOptionalAndNormalisedToE164) {
  EXPECT_FALSE(
      ok(parse_webform("application/json", R"({"name":"n","email":"a@b.co","subject":"s","message":"m"})")).phone);
  auto s =
      ok(parse_webform("application/json",
                       R"({"name":"n","email":"a@b.co","subject":"s","message":"m","phone":" +1 (555) 123-4567 "})"));
  EXPECT_EQ(s.phone, "+15551234567");
  EXPECT_EQ(s.to_json()["phone"], "+15551234567");
  s = ok(parse_webform("application/x-www-form-urlencoded",
                       "name=n&email=a%40b.co&subject=s&message=m&phone=%2B44+20+7946+0958"));
  EXPECT_EQ(s.phone, "+442079460958");
  // An empty field is no phone, as with the other optional fields.
  EXPECT_FALSE(
      ok(parse_webform("application/x-www-form-urlencoded", "name=n&email=a%40b.co&subject=s&message=m&phone=")).phone);
}

TEST(Webform, RefusesAPhoneThatIsNotAnInternationalNumber) {
  for (const char* bad : {"5551234567", "+1555", "call me", "+15551234567 ext 9", "whatsapp:+15551234567"}) {
    const nlohmann::json body = {
        {"name", "n"}, {"email", "a@b.co"}, {"subject", "s"}, {"message", "m"}, {"phone", bad}};
    const auto e = error(parse_webform("application/json", body.dump()));
    EXPECT_EQ(e.status, http::Status::bad_request) << bad;
    EXPECT_EQ(e.code, "invalid_phone_number") << bad;
    EXPECT_EQ(e.field, "phone") << bad;
  }
  const nlohmann::json too_long = {
      {"name", "n"}, {"email", "a@b.co"}, {"subject", "s"}, {"message", "m"}, {"phone", "+" + std::string(64, '1')}};
  EXPECT_EQ(error(parse_webform("application/json", too_long.dump())).code, "field_too_long");
}

TEST(Webform, ValidatesEmailsAndIdempotencyKeys) {
  for (const char* good : {"a@b.co", "first.last+tag@sub.example.org", "x_y-z@e-x.io"}) {
    EXPECT_TRUE(is_valid_email(good)) << good;
  }
  for (const char* bad : {"", "a@b", "@b.co", "a@.co", "a b@c.co", "a@b..co", "a@@b.co", ".a@b.co", "a@b_c.co"}) {
    EXPECT_FALSE(is_valid_email(bad)) << bad;
  }
  EXPECT_FALSE(check_idempotency_key("0b1e4c1a-7d3e-4c55-9a1b-2f2d3e4f5a6b"));
  EXPECT_TRUE(check_idempotency_key(""));
  EXPECT_TRUE(check_idempotency_key("has space"));
  EXPECT_TRUE(check_idempotency_key(std::string(256, 'k')));
}

} // namespace
} // namespace fte::gateway
