#include "twilio_form.hpp"

#include <gtest/gtest.h>

#include "form_fields.hpp"
#include "twilio_vectors.hpp"

namespace fte::gateway {
namespace {

TEST(FormFields, KeepsEveryPairInOrderDecoded) {
  const auto fields = parse_form_fields("b=2&a=1+1&a=%C3%A9%26&flag&empty=&=skipped&&c=x%2By");
  ASSERT_TRUE(fields);
  const FormFields expected = {{"b", "2"}, {"a", "1 1"}, {"a", "é&"}, {"flag", ""}, {"empty", ""}, {"c", "x+y"}};
  EXPECT_EQ(*fields, expected);
  EXPECT_EQ(parse_form_fields("")->size(), 0U);
}

TEST(FormFields, RefusesWhatIsNotFormEncoding) {
  EXPECT_FALSE(parse_form_fields("a=%zz"));
  EXPECT_FALSE(parse_form_fields("a=%4"));
  EXPECT_FALSE(parse_form_fields(std::string_view("a=1\0b=2", 7)));
  // A view into a larger buffer is read by its own length only.
  const std::string buffer = "a=1&b=2&c=NOT-PART";
  const auto fields = parse_form_fields(std::string_view(buffer).substr(0, 7));
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->size(), 2U);
}

TEST(TwilioForm, BodyKindFollowsTheMediaType) {
  EXPECT_EQ(twilio_body_kind("application/x-www-form-urlencoded"), TwilioBodyKind::form);
  EXPECT_EQ(twilio_body_kind("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), TwilioBodyKind::form);
  EXPECT_EQ(twilio_body_kind("application/json; charset=utf-8"), TwilioBodyKind::json);
  EXPECT_FALSE(twilio_body_kind("text/plain"));
  EXPECT_FALSE(twilio_body_kind("multipart/form-data; boundary=x"));
  EXPECT_FALSE(twilio_body_kind(""));
}

TEST(TwilioForm, ReadsAWhatsappMessageWithEveryField) {
  const auto fields = parse_twilio_body(TwilioBodyKind::form, test_vectors::kMessageBody);
  ASSERT_TRUE(fields);
  EXPECT_EQ(fields->size(), 20U);
  const TwilioParams params(*fields);
  EXPECT_EQ(params.first("ProfileName"), "Zoë Ångström");
  EXPECT_EQ(params.first("Body"), "Hello & welcome = 100% + more");
  EXPECT_EQ(params.first("From"), "whatsapp:+15551234567");
  EXPECT_FALSE(params.first("Nope"));
  const auto json = params.to_json();
  EXPECT_EQ(json.size(), 20U);
  EXPECT_EQ(json["MediaContentType1"], "application/pdf");
}

TEST(TwilioForm, RepeatedNamesBecomeListsInOrder) {
  const TwilioParams params(*parse_twilio_body(TwilioBodyKind::form, "Tag=zeta&One=1&Tag=alpha&Tag=zeta&Empty="));
  EXPECT_EQ(params.first("Tag"), "zeta");
  EXPECT_EQ(params.first("Empty"), "");
  EXPECT_FALSE(params.non_empty("Empty"));
  const auto json = params.to_json();
  EXPECT_EQ(json, nlohmann::json::parse(R"({"Tag":["zeta","alpha","zeta"],"One":"1","Empty":""})"));
}

TEST(TwilioForm, ReadsJsonObjectsAsParameters) {
  const auto fields =
      parse_twilio_body(TwilioBodyKind::json, R"({"s":"x","n":12,"b":true,"z":null,"a":["p",2],"o":{"k":"v"}})");
  ASSERT_TRUE(fields);
  // nlohmann::json orders object members by name.
  const FormFields expected = {{"a", "p"}, {"a", "2"}, {"b", "true"}, {"n", "12"}, {"o", R"({"k":"v"})"}, {"s", "x"}};
  EXPECT_EQ(*fields, expected);
  EXPECT_FALSE(parse_twilio_body(TwilioBodyKind::json, "[1,2]"));
  EXPECT_FALSE(parse_twilio_body(TwilioBodyKind::json, "{"));
  EXPECT_FALSE(parse_twilio_body(TwilioBodyKind::json, ""));
  EXPECT_FALSE(parse_twilio_body(TwilioBodyKind::json, "\"\xff\""));
}

} // namespace
} // namespace fte::gateway
