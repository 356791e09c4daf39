#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// Internet mail as fte reads and writes it: parsing what customers send
/// (GMime 3 for MIME, gumbo for HTML bodies) and composing the replies we send
/// (RFC 5322, UTF-8 bodies in quoted-printable). Nothing here touches the
/// network; libs/gmail moves the bytes.
namespace fte::mail {

struct Address {
  std::string address; ///< addr-spec, lower case (ASCII folding only)
  std::string name;    ///< display name, decoded to UTF-8; may be empty
};

/// A MIME part that is listed, never inlined into the text.
struct Attachment {
  std::string filename;     ///< decoded; empty when the part names none
  std::string content_type; ///< "type/subtype", lower case
  std::size_t size = 0;     ///< decoded size in bytes (after base64 / quoted-printable)
};

/// The longest `text` or `full_text` parse_email returns, in bytes. Longer
/// bodies are cut on a character boundary.
inline constexpr std::size_t kMaxBodyBytes = 100'000;

struct ParsedEmail {
  Address from; ///< the first From mailbox; empty when there is none
  std::vector<Address> to, cc, reply_to;
  std::string subject;                 ///< RFC 2047 decoded, UTF-8
  std::string message_id;              ///< "<id@host>"; empty when the header is missing
  std::string in_reply_to;             ///< "<id@host>": the first message id of In-Reply-To; empty when none
  std::vector<std::string> references; ///< each "<id@host>", oldest first
  std::optional<std::chrono::system_clock::time_point> date; ///< nullopt when missing or unparseable
  /// What the customer wrote: text/plain preferred, else HTML turned to text;
  /// quoted history and signature trimmed. Valid UTF-8 without NUL or other
  /// control characters except tab and newline (LF line endings), at most kMaxBodyBytes.
  std::string text;
  std::string full_text; ///< the same body before trimming (same guarantees)
  std::vector<Attachment> attachments;
  /// Auto-Submitted other than "no", Precedence bulk|junk|list|auto_reply,
  /// X-Autoreply / X-Autorespond, a null Return-Path, a delivery report or a
  /// mailer-daemon sender: answering it could start a mail loop (RFC 3834).
  bool auto_submitted = false;
};

struct ParseError {
  std::string message;
};

/// Parses an RFC 822 / MIME message (as Gmail's format=raw gives it, after
/// base64url decoding). Never throws; input with no header section at all is
/// a ParseError, anything else is parsed as far as it makes sense. Every
/// string in the result is valid UTF-8.
[[nodiscard]] std::variant<ParsedEmail, ParseError> parse_email(std::string_view rfc822) noexcept;

/// HTML to readable plain text through a real HTML5 parser (gumbo): block
/// elements and <br> become line breaks, list items get "- " or "1. ",
/// blockquotes get "> " prefixes, links keep their text (and their http(s)
/// target when it differs from the text), script/style/head are skipped,
/// entities decoded, whitespace collapsed. Input that would make the parser
/// exceed its memory budget is parsed from a shorter prefix (the tail of a
/// long message is quoted history). Output is valid UTF-8. Never throws.
[[nodiscard]] std::string html_to_text(std::string_view html) noexcept;

struct OutgoingEmail {
  Address from;
  std::vector<Address> to;
  std::string subject;
  std::string body_text;               ///< plain text, UTF-8, any line endings
  std::string message_id;              ///< "<id@host>" (brackets added when missing)
  std::string in_reply_to;             ///< optional, "<id@host>"
  std::vector<std::string> references; ///< optional, each "<id@host>"
  std::chrono::system_clock::time_point date;
};

/// Serialises a reply: RFC 5322 with CRLF line endings; From, To, Subject,
/// Date, Message-ID, In-Reply-To, References, MIME-Version, Content-Type
/// text/plain; charset=UTF-8 and a quoted-printable body. Non-ASCII display
/// names and subjects become RFC 2047 encoded-words; CR and LF in header
/// values become spaces (no header injection). The output is a pure function
/// of the input.
/// @throws std::invalid_argument when From or a To address is missing or not
///         a plausible addr-spec, or a message id is malformed.
[[nodiscard]] std::string compose_email(const OutgoingEmail& email);

/// "<reply-{reply_id}@{domain}>": the same reply always gets the same
/// Message-ID, so after an ambiguous send the Sent folder can be searched for it.
/// @throws std::invalid_argument when either part is empty or holds
///         characters not allowed in a msg-id (whitespace, "<", ">", "@" in reply_id, ...).
[[nodiscard]] std::string deterministic_message_id(std::string_view reply_id, std::string_view domain);

/// Base64url (RFC 4648 section 5) without padding.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
/// Base64url with or without "=" padding; nullopt on any other character or
/// an impossible length.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

} // namespace fte::mail
