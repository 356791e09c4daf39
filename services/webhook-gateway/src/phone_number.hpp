#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::gateway {

/// A WhatsApp address or phone number in E.164 ("+15551234567"): `text` may
/// carry the `whatsapp:` prefix Twilio puts on WhatsApp addresses; what
/// follows must be '+' and digits only, and is then normalised as every
/// phone identifier is (fte::identity::normalize_phone: libphonenumber, a
/// possible number for its country calling code, no extension). nullopt
/// otherwise.
[[nodiscard]] std::optional<std::string> to_e164(std::string_view text);

/// `text` without a leading `whatsapp:` (any case); unchanged otherwise.
[[nodiscard]] std::string_view strip_whatsapp_prefix(std::string_view text);

/// True when `text` starts with `whatsapp:` (any case).
[[nodiscard]] bool has_whatsapp_prefix(std::string_view text);

} // namespace fte::gateway
