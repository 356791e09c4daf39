// compose_email: the reply we send, written out by hand rather than through
// GMime so that the bytes are a pure function of the input (the same reply
// id always gives the same message) and every header rule is visible here.
// The tests read the result back with GMime.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fte/mail/mail.hpp"
#include "text.hpp"

namespace fte::mail {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// RFC 5322 2.1.1: lines SHOULD be at most 78 characters; RFC 2047 caps a
// line holding an encoded-word at 76.
constexpr std::size_t kFoldAt = 76;
// A word longer than this cannot be folded; it is encoded (and so split)
// instead, which keeps every line under the hard limit of 998.
constexpr std::size_t kMaxPlainWord = 900;

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8 |
                   static_cast<std::uint8_t>(bytes[i + 2]);
    out += kBase64Alphabet[n >> 18 & 63];
    out += kBase64Alphabet[n >> 12 & 63];
    out += kBase64Alphabet[n >> 6 & 63];
    out += kBase64Alphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16;
    out += kBase64Alphabet[n >> 18 & 63];
    out += kBase64Alphabet[n >> 12 & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes[i + 1])) << 8;
    out += kBase64Alphabet[n >> 18 & 63];
    out += kBase64Alphabet[n >> 12 & 63];
    out += kBase64Alphabet[n >> 6 & 63];
    out += '=';
  }
  return out;
}

bool is_printable_ascii(std::string_view text) {
  for (const char c : text) {
    if (c < ' ' || c > '~') return false;
  }
  return true;
}

// Header text that can be written as it is: printable ASCII that a decoder
// would not mistake for an encoded-word.
bool is_plain_header_text(std::string_view text) {
  return is_printable_ascii(text) && text.find("=?") == std::string_view::npos;
}

// A header whose value is a sequence of tokens, folded before a token that
// would carry the line past kFoldAt. `separator` goes between tokens on the
// same line; a fold replaces the space it contains with CRLF + space.
std::string fold_header(std::string_view name, const std::vector<std::string>& tokens, std::string_view separator) {
  std::string out(name);
  out += ":";
  std::size_t line_length = out.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string_view joint = i == 0 ? std::string_view(" ") : separator;
    if (i > 0 && line_length + joint.size() + tokens[i].size() > kFoldAt) {
      // ", " becomes ",\r\n " and " " becomes "\r\n ".
      const auto comma = joint.substr(0, joint.size() - 1);
      out += comma;
      out += kCrlf;
      out += ' ';
      line_length = 1;
    } else {
      out += joint;
      line_length += joint.size();
    }
    out += tokens[i];
    line_length += tokens[i].size();
  }
  out += kCrlf;
  return out;
}

// RFC 2047 B-encoded words of UTF-8 text, each holding whole characters (a
// word must decode on its own). 39 bytes make 52 base64 characters, 64 with
// "=?UTF-8?B?" and "?=": short enough to follow "Subject: " within 76.
std::vector<std::string> encoded_words(std::string_view utf8) {
  constexpr std::size_t kMaxBytesPerWord = 39;
  std::vector<std::string> words;
  while (!utf8.empty()) {
    const auto chunk = detail::utf8_prefix(utf8, kMaxBytesPerWord);
    words.push_back("=?UTF-8?B?" + base64(chunk) + "?=");
    utf8.remove_prefix(chunk.size());
  }
  return words;
}

std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// Unstructured text (Subject): plain words folded at spaces, or encoded-words.
std::string unstructured_header(std::string_view name, std::string_view value) {
  const auto text = detail::sanitize_header_text(value); // no CR/LF can reach the output
  if (text.empty()) return std::string(name) + ":" + std::string(kCrlf);
  if (is_plain_header_text(text)) {
    auto words = words_of(text);
    if (std::all_of(words.begin(), words.end(), [](const auto& word) { return word.size() <= kMaxPlainWord; })) {
      return fold_header(name, words, " ");
    }
  }
  return fold_header(name, encoded_words(text), " ");
}

bool is_atext_phrase(std::string_view name) {
  for (const char c : name) {
    const bool atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-/=?^_`{|}~ ").find(c) != std::string_view::npos;
    if (!atext) return false;
  }
  return true;
}

// A plausible addr-spec: dot-atom@domain in printable ASCII, nothing that
// would end the address or start another header.
void require_addr_spec(std::string_view address, std::string_view role) {
  const auto at = address.rfind('@');
  const bool shaped = at != std::string_view::npos && at > 0 && at + 1 < address.size();
  bool clean = is_printable_ascii(address);
  for (const char c : address) {
    if (c == ' ' || std::string_view("<>()[]\\,;:\"").find(c) != std::string_view::npos) clean = false;
  }
  if (!shaped || !clean || address.find('@') != at || address.size() > 254) {
    throw std::invalid_argument("compose_email: " + std::string(role) + " address is not an addr-spec: \"" +
                                std::string(detail::utf8_prefix(address, 200)) + "\"");
  }
}

// One mailbox as header tokens: the display name (as it is, quoted, or
// encoded) and "<addr>".
std::vector<std::string> mailbox_tokens(const Address& address, std::string_view role) {
  const auto addr = std::string(detail::trim_ascii(address.address));
  require_addr_spec(addr, role);
  const auto name = detail::sanitize_header_text(address.name);
  std::vector<std::string> tokens;
  if (name.empty()) {
    tokens.push_back(addr);
    return tokens;
  }
  if (is_plain_header_text(name) && name.size() <= kMaxPlainWord && is_atext_phrase(name)) {
    tokens = words_of(name);
  } else if (is_plain_header_text(name) && name.size() <= kMaxPlainWord) {
    std::string quoted = "\"";
    for (const char c : name) {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    quoted += '"';
    tokens.push_back(std::move(quoted));
  } else {
    tokens = encoded_words(name);
  }
  tokens.push_back("<" + addr + ">");
  return tokens;
}

std::string address_header(std::string_view name, const std::vector<Address>& addresses, std::string_view role) {
  if (addresses.empty()) throw std::invalid_argument("compose_email: no " + std::string(role) + " address");
  // Tokens of one mailbox are separated by spaces, mailboxes by ", ".
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    auto mailbox = mailbox_tokens(addresses[i], role);
    if (i + 1 < addresses.size()) mailbox.back() += ",";
    for (auto& token : mailbox)
      tokens.push_back(std::move(token));
  }
  return fold_header(name, tokens, " ");
}

// "<id>" from "id" or "<id>"; empty when it is not a usable msg-id.
std::string normalized_message_id(std::string_view id) {
  id = detail::trim_ascii(id);
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  if (id.empty() || id.size() > 900 || !is_printable_ascii(id)) return {};
  if (id.find_first_of(" <>") != std::string_view::npos) return {};
  return "<" + std::string(id) + ">";
}

std::string rfc5322_date(std::chrono::system_clock::time_point date) {
  static constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = std::chrono::system_clock::to_time_t(date);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                std::string(kDays.at(static_cast<std::size_t>(utc.tm_wday))).c_str(), utc.tm_mday,
                std::string(kMonths.at(static_cast<std::size_t>(utc.tm_mon))).c_str(), utc.tm_year + 1900, utc.tm_hour,
                utc.tm_min, utc.tm_sec);
  return buffer;
}

// Quoted-printable (RFC 2045 6.7) of UTF-8 text with CRLF line breaks:
// encoded lines of at most 76 characters, soft breaks never inside an =XX,
// trailing white space encoded, and "From " / "." at a line start encoded so
// that no transport mangles them.
std::string quoted_printable(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    const auto line = text.substr(start, end - start);
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto byte = static_cast<std::uint8_t>(line[i]);
      const bool at_end = i + 1 == line.size();
      bool literal = (byte >= 33 && byte <= 126 && byte != '=') || ((byte == ' ' || byte == '\t') && !at_end);
      if (i == 0 && (line.substr(0, 5) == "From " || line == ".")) literal = false;
      const std::size_t width = literal ? 1 : 3;
      if (column + width > 75) { // leave room for the soft break's "="
        out += "=";
        out += kCrlf;
        column = 0;
      }
      if (literal) {
        out += static_cast<char>(byte);
      } else {
        out += '=';
        out += kHex[byte >> 4];
        out += kHex[byte & 15];
      }
      column += width;
    }
    if (last) {
      if (!line.empty()) out += kCrlf;
      break;
    }
    out += kCrlf;
    start = end + 1;
  }
  return out;
}

bool is_msg_id_atom(std::string_view text, bool allow_dot) {
  if (text.empty()) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || (allow_dot && c == '.');
    if (!ok) return false;
  }
  return text.front() != '.' && text.back() != '.';
}

} // namespace

std::string compose_email(const OutgoingEmail& email) {
  const auto message_id = normalized_message_id(email.message_id);
  if (message_id.empty()) {
    throw std::invalid_argument("compose_email: Message-ID is missing or malformed: \"" +
                                std::string(detail::utf8_prefix(email.message_id, 200)) + "\"");
  }
  std::string out;
  out += address_header("From", {email.from}, "From");
  out += address_header("To", email.to, "To");
  out += unstructured_header("Subject", email.subject);
  out += "Date: " + rfc5322_date(email.date) + std::string(kCrlf);
  out += "Message-ID: " + message_id + std::string(kCrlf);
  // Threading headers come from the customer's message: one that is
  // malformed is left out rather than failing the reply (Gmail threads by
  // thread id anyway).
  if (const auto in_reply_to = normalized_message_id(email.in_reply_to); !in_reply_to.empty()) {
    out += "In-Reply-To: " + in_reply_to + std::string(kCrlf);
  }
  std::vector<std::string> references;
  for (const auto& reference : email.references) {
    if (auto id = normalized_message_id(reference); !id.empty()) references.push_back(std::move(id));
  }
  if (!references.empty()) out += fold_header("References", references, " ");
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out += "Content-Transfer-Encoding: quoted-printable\r\n";
  out += kCrlf;
  out += quoted_printable(detail::sanitize_text(email.body_text));
  return out;
}

std::string deterministic_message_id(std::string_view reply_id, std::string_view domain) {
  if (!is_msg_id_atom(reply_id, false) || !is_msg_id_atom(domain, true) ||
      domain.find("..") != std::string_view::npos) {
    throw std::invalid_argument(
        "deterministic_message_id: reply id \"" + std::string(detail::utf8_prefix(reply_id, 100)) + "\" or domain \"" +
        std::string(detail::utf8_prefix(domain, 100)) + "\" is empty or holds characters a Message-ID cannot carry");
  }
  return "<reply-" + std::string(reply_id) + "@" + std::string(domain) + ">";
}

} // namespace fte::mail
