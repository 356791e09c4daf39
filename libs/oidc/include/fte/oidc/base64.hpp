#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fte::oidc {

/// Decodes base64url without padding (RFC 7515 section 2, the JWS segment
/// encoding). Strict: any character outside the alphabet, padding, a length
/// that no encoder produces or non-zero unused bits is rejected, so one token
/// has exactly one spelling. Never throws.
[[nodiscard]] std::optional<std::string> decode_base64url(std::string_view text);

/// Decodes standard base64 (RFC 4648 section 4, `+` and `/`), as Pub/Sub
/// encodes a message's `data`. Padding may be present (then it must be
/// right) or absent; whitespace and other characters are rejected. Never
/// throws.
[[nodiscard]] std::optional<std::string> decode_base64(std::string_view text);

/// Encodes base64url without padding (tests mint tokens with it).
[[nodiscard]] std::string encode_base64url(std::string_view bytes);

/// Encodes standard base64 with padding.
[[nodiscard]] std::string encode_base64(std::string_view bytes);

} // namespace fte::oidc
