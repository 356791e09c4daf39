// parse_email: GMime 3 does the MIME work (header decoding, RFC 2047/2231,
// transfer encodings, charsets); this file decides which parts are the body
// and which are attachments, and turns the result into clean UTF-8.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fte/common/time.hpp"
#include "fte/mail/mail.hpp"
#include "gmime_handles.hpp"
#include "reply_text.hpp"
#include "text.hpp"

namespace fte::mail {
namespace detail {

void ensure_gmime_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

} // namespace detail

namespace {

using detail::GObjectPtr;

// MIME trees deeper than this are not walked further (GMime itself parses
// any depth without recursing; our walk recurses).
constexpr int kMaxMimeDepth = 32;
// The body is cut to this before quote trimming, which scans all of it;
// the result is cut to kMaxBodyBytes anyway.
constexpr std::size_t kMaxBodyWorkBytes = 1024 * 1024;
constexpr std::size_t kMaxReferences = 100;
constexpr std::size_t kMaxAddresses = 500;
constexpr int kMaxGroupDepth = 4;

std::string_view view(const char* text) { return text == nullptr ? std::string_view() : std::string_view(text); }

const char* header(GMimeObject* object, const char* name) { return g_mime_object_get_header(object, name); }

// "type/subtype" in lower case.
std::string mime_type(GMimeObject* object) {
  GMimeContentType* type = g_mime_object_get_content_type(object);
  if (type == nullptr) return "application/octet-stream";
  return detail::lower_ascii(std::string(view(g_mime_content_type_get_media_type(type))) + "/" +
                             std::string(view(g_mime_content_type_get_media_subtype(type))));
}

bool is_type(GMimeObject* object, const char* type, const char* subtype) {
  GMimeContentType* content_type = g_mime_object_get_content_type(object);
  return content_type != nullptr && g_mime_content_type_is_type(content_type, type, subtype) != FALSE;
}

// The part's content after its transfer encoding (base64, quoted-printable, ...) is undone.
std::string decoded_bytes(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return {};
  GObjectPtr<GMimeStream> memory(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, memory.get()) < 0) return {};
  const GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(memory.get()));
  if (bytes == nullptr || bytes->data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

std::size_t decoded_size(GMimeObject* object) {
  GObjectPtr<GMimeStream> counter(g_mime_stream_null_new());
  if (GMIME_IS_PART(object)) {
    GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(object));
    if (content == nullptr || g_mime_data_wrapper_write_to_stream(content, counter.get()) < 0) return 0;
  } else if (g_mime_object_write_to_stream(object, nullptr, counter.get()) < 0) {
    return 0;
  }
  return GMIME_STREAM_NULL(counter.get())->written;
}

std::string convert_to_utf8(const std::string& bytes, const char* declared_charset, GMimeParserOptions* options) {
  const auto undeclared_or_guessed = [&]() -> std::string {
    if (detail::is_valid_utf8(bytes)) return bytes;
    // 8-bit text in no or the wrong charset: GMime guesses from the parser's
    // fallback charsets (UTF-8, then windows-1252).
    const detail::GString guessed(g_mime_utils_decode_8bit(options, bytes.data(), bytes.size()));
    return guessed ? std::string(guessed.get()) : bytes;
  };
  const char* canonical = declared_charset == nullptr ? nullptr : g_mime_charset_canon_name(declared_charset);
  if (canonical == nullptr || g_ascii_strcasecmp(canonical, "utf-8") == 0 ||
      g_ascii_strcasecmp(canonical, "us-ascii") == 0) {
    return undeclared_or_guessed();
  }
  // What senders label ISO-8859-1 is in practice windows-1252 (its superset
  // in the printable range), as the WHATWG encoding standard also decides.
  const char* from = g_ascii_strcasecmp(canonical, "iso-8859-1") == 0 ? "windows-1252" : canonical;
  GObjectPtr<GMimeFilter> filter(g_mime_filter_charset_new(from, "UTF-8"));
  if (!filter) return undeclared_or_guessed(); // a charset iconv does not know
  GObjectPtr<GMimeStream> memory(g_mime_stream_mem_new());
  GObjectPtr<GMimeStream> filtered(g_mime_stream_filter_new(memory.get()));
  g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), filter.get());
  if (g_mime_stream_write(filtered.get(), bytes.data(), bytes.size()) < 0 || g_mime_stream_flush(filtered.get()) < 0) {
    return undeclared_or_guessed();
  }
  const GByteArray* converted = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(memory.get()));
  if (converted == nullptr || converted->data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(converted->data), converted->len);
}

bool param_is(GMimeObject* object, const char* name, std::string_view value) {
  return detail::iequals_ascii(detail::trim_ascii(view(g_mime_object_get_content_type_parameter(object, name))), value);
}

struct BodyWalk {
  GMimeParserOptions* options;
  std::vector<std::string> segments;
  std::vector<Attachment> attachments;

  void walk(GMimeObject* object, int depth, bool collect_text) {
    if (object == nullptr || depth > kMaxMimeDepth) return;
    if (GMIME_IS_MULTIPART(object)) {
      walk_multipart(GMIME_MULTIPART(object), depth, collect_text);
    } else if (GMIME_IS_MESSAGE_PART(object)) {
      // A forwarded or bounced message: listed, not read as the customer's words.
      std::string filename(view(g_mime_object_get_content_disposition_parameter(object, "filename")));
      if (filename.empty()) {
        if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object))) {
          filename = view(g_mime_message_get_subject(inner));
        }
      }
      add_attachment(object, filename);
    } else if (GMIME_IS_PART(object)) {
      walk_leaf(GMIME_PART(object), collect_text);
    }
  }

  void walk_multipart(GMimeMultipart* multipart, int depth, bool collect_text) {
    const int count = g_mime_multipart_get_count(multipart);
    if (is_type(GMIME_OBJECT(multipart), "multipart", "alternative")) {
      // One alternative is the body (plain text preferred); the others only
      // contribute attachments (an HTML version's inline images).
      const int chosen = choose_alternative(multipart, count);
      for (int i = 0; i < count; ++i) {
        walk(g_mime_multipart_get_part(multipart, i), depth + 1, collect_text && i == chosen);
      }
      return;
    }
    for (int i = 0; i < count; ++i)
      walk(g_mime_multipart_get_part(multipart, i), depth + 1, collect_text);
  }

  static bool is_body_part(GMimeObject* part) {
    if (!is_type(part, "text", "plain") && !is_type(part, "text", "html")) return false;
    if (!GMIME_IS_PART(part) || g_mime_part_is_attachment(GMIME_PART(part))) return false;
    return view(g_mime_part_get_filename(GMIME_PART(part))).empty();
  }

  int choose_alternative(GMimeMultipart* multipart, int count) {
    int html = -1;
    int nested = -1;
    for (int i = 0; i < count; ++i) {
      GMimeObject* part = g_mime_multipart_get_part(multipart, i);
      if (part == nullptr) continue;
      if (is_body_part(part) && is_type(part, "text", "plain")) {
        // Some senders put "view this message in HTML" in an empty plain part.
        if (!detail::trim_ascii(decoded_bytes(GMIME_PART(part))).empty()) return i;
      } else if (is_body_part(part) && html < 0) {
        html = i;
      } else if (GMIME_IS_MULTIPART(part) && nested < 0) {
        nested = i;
      }
    }
    if (html >= 0) return html;
    return nested;
  }

  void walk_leaf(GMimePart* part, bool collect_text) {
    GMimeObject* object = GMIME_OBJECT(part);
    if (is_body_part(object)) {
      if (collect_text) add_text(part);
      return;
    }
    // Signatures of multipart/signed say nothing to a reader.
    if (is_type(object, "application", "pgp-signature") || is_type(object, "application", "pkcs7-signature") ||
        is_type(object, "application", "x-pkcs7-signature")) {
      return;
    }
    add_attachment(object, std::string(view(g_mime_part_get_filename(part))));
  }

  void add_text(GMimePart* part) {
    GMimeObject* object = GMIME_OBJECT(part);
    const auto raw = decoded_bytes(part);
    auto text = detail::sanitize_text(
        convert_to_utf8(raw, g_mime_object_get_content_type_parameter(object, "charset"), options));
    if (is_type(object, "text", "html")) {
      text = html_to_text(text);
    } else if (param_is(object, "format", "flowed")) {
      text = detail::unflow(text, param_is(object, "delsp", "yes"));
    }
    segments.push_back(std::move(text));
  }

  void add_attachment(GMimeObject* object, std::string filename) {
    attachments.push_back(Attachment{detail::sanitize_header_text(filename), mime_type(object), decoded_size(object)});
  }
};

void append_addresses(InternetAddressList* list, std::vector<Address>& out, int depth = 0) {
  if (list == nullptr || depth > kMaxGroupDepth) return;
  const int count = internet_address_list_length(list);
  for (int i = 0; i < count && out.size() < kMaxAddresses; ++i) {
    InternetAddress* address = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(address)) {
      append_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(address)), out, depth + 1);
      continue;
    }
    if (!INTERNET_ADDRESS_IS_MAILBOX(address)) continue;
    auto addr = detail::lower_ascii(
        detail::sanitize_header_text(view(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(address)))));
    addr.erase(std::remove(addr.begin(), addr.end(), ' '), addr.end());
    if (addr.empty()) continue;
    out.push_back(Address{std::move(addr), detail::sanitize_header_text(view(internet_address_get_name(address)))});
  }
}

std::vector<Address> addresses(GMimeMessage* message, GMimeAddressType type) {
  std::vector<Address> out;
  append_addresses(g_mime_message_get_addresses(message, type), out);
  return out;
}

// "<id>" from a msg-id GMime has unwrapped; empty when nothing usable is left.
std::string bracketed_message_id(std::string_view id) {
  std::string clean;
  for (const char c : id) {
    if (c > ' ' && c < 0x7F && c != '<' && c != '>') clean += c;
  }
  if (clean.empty()) return {};
  return "<" + clean + ">";
}

std::vector<std::string> message_ids(GMimeObject* object, const char* name, GMimeParserOptions* options) {
  std::vector<std::string> ids;
  const char* value = header(object, name);
  if (value == nullptr) return ids;
  const detail::ReferencesPtr references(g_mime_references_parse(options, value));
  if (!references) return ids;
  const int count = g_mime_references_length(references.get());
  for (int i = 0; i < count; ++i) {
    auto id = bracketed_message_id(view(g_mime_references_get_message_id(references.get(), i)));
    if (!id.empty()) ids.push_back(std::move(id));
  }
  // Keep the thread's root and its most recent ancestors.
  if (ids.size() > kMaxReferences) ids.erase(ids.begin() + 1, ids.end() - (kMaxReferences - 1));
  return ids;
}

std::string header_token(GMimeObject* object, const char* name) {
  auto value = detail::lower_ascii(detail::trim_ascii(view(header(object, name))));
  // "auto-replied; owner-email=..." or "bulk (comment)": the first word counts.
  const auto end = value.find_first_of("; (\t");
  if (end != std::string::npos) value.resize(end);
  return value;
}

// RFC 3834 and the headers autoresponders really send: replying to any of
// these risks a loop with another machine.
bool is_auto_submitted(GMimeMessage* message, const Address& from) {
  GMimeObject* object = GMIME_OBJECT(message);
  const auto auto_submitted = header_token(object, "Auto-Submitted");
  if (!auto_submitted.empty() && auto_submitted != "no") return true;
  for (const char* name : {"Precedence", "X-Precedence"}) {
    const auto precedence = header_token(object, name);
    if (precedence == "bulk" || precedence == "junk" || precedence == "list" || precedence == "auto_reply") return true;
  }
  for (const char* name : {"X-Autoreply", "X-Autorespond", "X-AutoReply-From", "X-Mail-Autoreply"}) {
    if (header(object, name) != nullptr) return true;
  }
  // A null reverse path marks bounces and other automatic notifications.
  if (const char* return_path = header(object, "Return-Path")) {
    std::string compact;
    for (const char* c = return_path; *c != '\0'; ++c) {
      if (*c != ' ' && *c != '\t' && *c != '\r' && *c != '\n') compact += *c;
    }
    if (compact == "<>") return true;
  }
  GMimeObject* root = g_mime_message_get_mime_part(message);
  if (root != nullptr && is_type(root, "multipart", "report")) return true;
  const auto at = from.address.find('@');
  const auto local = std::string_view(from.address).substr(0, at);
  return local == "mailer-daemon" || local == "postmaster";
}

std::string capped(std::string text) {
  const auto prefix = detail::utf8_prefix(text, kMaxBodyBytes);
  text.resize(prefix.size());
  return text;
}

ParsedEmail read_message(GMimeMessage* message, GMimeParserOptions* options) {
  ParsedEmail email;
  GMimeObject* object = GMIME_OBJECT(message);
  auto from = addresses(message, GMIME_ADDRESS_TYPE_FROM);
  if (!from.empty()) email.from = std::move(from.front());
  email.to = addresses(message, GMIME_ADDRESS_TYPE_TO);
  email.cc = addresses(message, GMIME_ADDRESS_TYPE_CC);
  email.reply_to = addresses(message, GMIME_ADDRESS_TYPE_REPLY_TO);
  email.subject = detail::sanitize_header_text(view(g_mime_message_get_subject(message)));
  email.message_id = bracketed_message_id(view(g_mime_message_get_message_id(message)));
  const auto in_reply_to = message_ids(object, "In-Reply-To", options);
  if (!in_reply_to.empty()) email.in_reply_to = in_reply_to.front();
  email.references = message_ids(object, "References", options);
  if (GDateTime* date = g_mime_message_get_date(message))
    email.date = fte::time_point_since_epoch(std::chrono::seconds(g_date_time_to_unix(date)));

  BodyWalk walk{options, {}, {}};
  walk.walk(g_mime_message_get_mime_part(message), 0, true);
  std::string body;
  for (const auto& segment : walk.segments) {
    const auto trimmed = detail::trim_ascii(segment);
    if (trimmed.empty()) continue;
    if (!body.empty()) body += "\n\n";
    body.append(trimmed);
    if (body.size() > kMaxBodyWorkBytes) break;
  }
  body.resize(detail::utf8_prefix(body, kMaxBodyWorkBytes).size());
  email.text = capped(detail::trim_reply(body));
  email.full_text = capped(std::move(body));
  email.attachments = std::move(walk.attachments);
  email.auto_submitted = is_auto_submitted(message, email.from);
  return email;
}

} // namespace

std::variant<ParsedEmail, ParseError> parse_email(std::string_view rfc822) noexcept {
  try {
    if (detail::trim_ascii(rfc822).empty()) return ParseError{"empty message"};
    detail::ensure_gmime_initialized();
    detail::ParserOptionsPtr options(g_mime_parser_options_new());
    // Raw 8-bit header text: UTF-8 when it is valid, else the usual western guess.
    std::array<const char*, 3> fallback{"UTF-8", "windows-1252", nullptr};
    g_mime_parser_options_set_fallback_charsets(options.get(), fallback.data());
    GObjectPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(rfc822.data(), rfc822.size()));
    GObjectPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    GObjectPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), options.get()));
    if (!message) return ParseError{"no RFC 5322 header section (" + std::to_string(rfc822.size()) + " bytes)"};
    return read_message(message.get(), options.get());
  } catch (const std::bad_alloc&) {
    return ParseError{"out of memory while parsing a message of " + std::to_string(rfc822.size()) + " bytes"};
  } catch (const std::exception& e) {
    return ParseError{std::string("message parsing failed: ") + e.what()};
  }
}

} // namespace fte::mail
