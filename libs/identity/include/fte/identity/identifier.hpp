#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace fte::identity {

/// The kinds of identifier a customer is recognised by (ADR 0011). A
/// WhatsApp number is a `phone`: the same number is one identifier on every
/// channel it arrives on.
enum class IdentifierKind { email, phone };

/// `email` or `phone`, as stored in customer_identifiers.kind.
[[nodiscard]] std::string_view to_string(IdentifierKind kind) noexcept;
/// The kind named `text` (exactly `email` or `phone`), or nullopt.
[[nodiscard]] std::optional<IdentifierKind> parse_kind(std::string_view text) noexcept;

/// An identifier in its one normalised spelling, the form every writer of
/// customer_identifiers uses (the table's CHECK constraints hold it too).
struct Identifier {
  IdentifierKind kind = IdentifierKind::email;
  std::string value;
  friend auto operator<=>(const Identifier&, const Identifier&) = default;
};

/// The E.164 form (`+15551234567`) of a number written in international
/// form: libphonenumber's PhoneNumberUtil::Parse with the unknown region
/// "ZZ" (so a leading `+` and country code are required: a number without
/// them has no single meaning) and Format(E164). Spaces, dashes, dots and
/// brackets are allowed. nullopt when the text does not parse, when the
/// number has an extension (an extension is not an address a message can be
/// sent to), or when its length is impossible for its country.
///
/// Possible, not "valid": validity is checked against numbering-plan
/// metadata that ages with the library (new ranges would be refused) and
/// refuses the fictional +1 555 01xx numbers tests and demos use; a number
/// that is wrong but possible only fails to reach anyone.
[[nodiscard]] std::optional<std::string> normalize_phone(std::string_view text);

/// True when `text` is already in the E.164 form normalize_phone returns
/// (`+`, a non-zero digit, at most 15 digits): a cheap check for values
/// that come from inside the suite.
[[nodiscard]] bool is_e164(std::string_view text) noexcept;

/// A trimmed, lower-cased address with one `@` between a non-empty local
/// part and a dotted domain, no spaces or control characters, at most 254
/// characters; nullopt otherwise. Lower-casing the local part is a choice:
/// no mail provider fte serves treats it as case-sensitive, and one person
/// must be one customer however they typed it.
[[nodiscard]] std::optional<std::string> normalize_email(std::string_view text);

/// `value` normalised as an identifier of `kind`, or nullopt when it is not one.
[[nodiscard]] std::optional<Identifier> make_identifier(IdentifierKind kind, std::string_view value);

} // namespace fte::identity
