#include "fte/oidc/base64.hpp"

#include <array>
#include <cstdint>

namespace fte::oidc {
namespace {

constexpr std::string_view kStandardAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> reverse_table(std::string_view alphabet) {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table)
    entry = kInvalid;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return table;
}

constexpr auto kStandardTable = reverse_table(kStandardAlphabet);
constexpr auto kUrlTable = reverse_table(kUrlAlphabet);

/// Decodes unpadded base64 text in the given alphabet; rejects a length of
/// 1 mod 4 and non-zero bits left over in the last character.
std::optional<std::string> decode_unpadded(std::string_view text, const std::array<std::uint8_t, 256>& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : text) {
    const auto value = table[static_cast<unsigned char>(c)];
    if (value == kInvalid) return std::nullopt;
    accumulator = (accumulator << 6U) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> static_cast<unsigned>(bits)) & 0xffU));
    }
  }
  // What is left (2 or 4 bits) must be zero: otherwise two spellings would
  // decode to the same bytes.
  if (bits > 0 && (accumulator & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) return std::nullopt;
  return out;
}

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t chunk = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U) |
                                (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
                                static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(alphabet[(chunk >> 18U) & 0x3fU]);
    out.push_back(alphabet[(chunk >> 12U) & 0x3fU]);
    out.push_back(alphabet[(chunk >> 6U) & 0x3fU]);
    out.push_back(alphabet[chunk & 0x3fU]);
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t chunk = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U;
    out.push_back(alphabet[(chunk >> 18U) & 0x3fU]);
    out.push_back(alphabet[(chunk >> 12U) & 0x3fU]);
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t chunk = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U) |
                                (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U);
    out.push_back(alphabet[(chunk >> 18U) & 0x3fU]);
    out.push_back(alphabet[(chunk >> 12U) & 0x3fU]);
    out.push_back(alphabet[(chunk >> 6U) & 0x3fU]);
    if (pad) out += "=";
  }
  return out;
}

} // namespace

std::optional<std::string> decode_base64url(std::string_view text) { return decode_unpadded(text, kUrlTable); }

std::optional<std::string> decode_base64(std::string_view text) {
  if (!text.empty() && text.back() == '=') {
    // Padded: the whole text is a multiple of four, with one or two `=` at the end.
    if (text.size() % 4 != 0) return std::nullopt;
    text.remove_suffix(1);
    if (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 0) return std::nullopt; // padding where none was due
  }
  return decode_unpadded(text, kStandardTable);
}

std::string encode_base64url(std::string_view bytes) { return encode(bytes, kUrlAlphabet, false); }

std::string encode_base64(std::string_view bytes) { return encode(bytes, kStandardAlphabet, true); }

} // namespace fte::oidc
