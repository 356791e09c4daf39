#include "fte/identity/identifier.hpp"

#include <gtest/gtest.h>

namespace fte::identity {
namespace {

TEST(Phone, InternationalFormsBecomeE164) {
  EXPECT_EQ(normalize_phone("+15551234567"), "+15551234567");
  EXPECT_EQ(normalize_phone(" +1 (555) 123-4567 "), "+15551234567");
  EXPECT_EQ(normalize_phone("+44 20 7946 0958"), "+442079460958");
  EXPECT_EQ(normalize_phone("+49 151.1234.5678"), "+4915112345678");
}

TEST(Phone, FictionalButPossibleNumbersAreAccepted) {
  // +1 555 numbers are not "valid" in the numbering plan, but tests, demos
  // and PROTOCOLS.md's vectors use them; possible is the bar (see header).
  EXPECT_EQ(normalize_phone("+1 555 010 0199"), "+15550100199");
}

TEST(Phone, RefusesWhatIsNotOneInternationalNumber) {
  EXPECT_FALSE(normalize_phone(""));
  EXPECT_FALSE(normalize_phone("+"));
  EXPECT_FALSE(normalize_phone("5551234567"));         // no country code: no single meaning
  EXPECT_FALSE(normalize_phone("00 44 20 7946 0958")); // international prefixes differ by country
  EXPECT_FALSE(normalize_phone("whatsapp:+15551234567"));
  EXPECT_FALSE(normalize_phone("+1555"));                     // too short for its country
  EXPECT_FALSE(normalize_phone("+1 555 123 4567 abc"));       // trailing junk makes it too long
  EXPECT_FALSE(normalize_phone("+15551234567 ext. 12"));      // an extension is not an address
  EXPECT_FALSE(normalize_phone("+999123456"));                // no such country code
  EXPECT_FALSE(normalize_phone("+1555123\n4567"));            // control characters
  EXPECT_FALSE(normalize_phone("+" + std::string(100, '1'))); // bounded before the parser sees it
}

TEST(Phone, E164Check) {
  EXPECT_TRUE(is_e164("+15551234567"));
  EXPECT_TRUE(is_e164("+442079460958"));
  EXPECT_FALSE(is_e164("15551234567"));
  EXPECT_FALSE(is_e164("+05551234567"));
  EXPECT_FALSE(is_e164("+1 5551234567"));
  EXPECT_FALSE(is_e164("+1234567890123456")); // 16 digits
}

TEST(Email, LowerCasedAndTrimmed) {
  EXPECT_EQ(normalize_email(" Ada@Example.COM "), "ada@example.com");
  EXPECT_EQ(normalize_email("grace.hopper+fte@navy.mil"), "grace.hopper+fte@navy.mil");
  EXPECT_FALSE(normalize_email("ada"));
  EXPECT_FALSE(normalize_email("@example.com"));
  EXPECT_FALSE(normalize_email("ada@example"));
  EXPECT_FALSE(normalize_email("ada@@example.com"));
  EXPECT_FALSE(normalize_email("a da@example.com"));
  EXPECT_FALSE(normalize_email("ada@example..com"));
}

TEST(Identifier, KindsAndDispatch) {
  EXPECT_EQ(parse_kind("phone"), IdentifierKind::phone);
  EXPECT_EQ(parse_kind("email"), IdentifierKind::email);
  EXPECT_FALSE(parse_kind("whatsapp")); // a WhatsApp number is a phone
  EXPECT_FALSE(parse_kind("Phone"));
  EXPECT_EQ(to_string(IdentifierKind::phone), "phone");
  EXPECT_EQ(make_identifier(IdentifierKind::phone, "+1 555 123 4567"),
            (Identifier{IdentifierKind::phone, "+15551234567"}));
  EXPECT_EQ(make_identifier(IdentifierKind::email, "Ada@Example.com"),
            (Identifier{IdentifierKind::email, "ada@example.com"}));
  EXPECT_FALSE(make_identifier(IdentifierKind::phone, "ada@example.com"));
  EXPECT_FALSE(make_identifier(IdentifierKind::email, "+15551234567"));
}

} // namespace
} // namespace fte::identity
