#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::gateway {

/// A WhatsApp address or phone number in E.164 ("+15551234567"), checked and
/// normalised with libphonenumber. `text` may carry the `whatsapp:` prefix
/// Twilio puts on WhatsApp addresses; what follows must be '+' and digits
/// only (no letters, which libphonenumber would read as a vanity number, no
/// extension). nullopt when it is not a possible number for its country
/// calling code. Possible, not "valid": Debian's metadata lags behind newly
/// allocated ranges, and refusing a real customer's number loses their
/// message, while the fictional +1 555 numbers tests use stay accepted.
[[nodiscard]] std::optional<std::string> to_e164(std::string_view text);

/// `text` without a leading `whatsapp:` (any case); unchanged otherwise.
[[nodiscard]] std::string_view strip_whatsapp_prefix(std::string_view text);

/// True when `text` starts with `whatsapp:` (any case).
[[nodiscard]] bool has_whatsapp_prefix(std::string_view text);

} // namespace fte::gateway
