// The Gmail path's first contact with mail from anyone: the MIME parser
// (GMime plus our body choice, charset handling and reply trimming) and the
// HTML renderer (gumbo under its budget). Both get every input whole. What
// comes out must be clean enough for an event and a PostgreSQL text column.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <glib.h>

#include "fte/mail/mail.hpp"

namespace {

// Valid UTF-8 without NUL (glib's check, independent of the library's own).
void require_clean(const std::string& text, std::size_t max_bytes) {
  if (g_utf8_validate_len(text.data(), text.size(), nullptr) == FALSE) __builtin_trap();
  if (text.size() > max_bytes) __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const auto parsed = fte::mail::parse_email(input);
  if (const auto* email = std::get_if<fte::mail::ParsedEmail>(&parsed)) {
    require_clean(email->text, fte::mail::kMaxBodyBytes);
    require_clean(email->full_text, fte::mail::kMaxBodyBytes);
    require_clean(email->subject, input.size() * 4 + 16);
    require_clean(email->from.name, input.size() * 4 + 16);
    require_clean(email->from.address, input.size() * 4 + 16);
    for (const auto& attachment : email->attachments)
      require_clean(attachment.filename, input.size() * 4 + 16);
    if (email->text.find('\r') != std::string::npos || email->full_text.find('\r') != std::string::npos) {
      __builtin_trap();
    }
  }

  // Growth is bounded: the most a 4-byte tag becomes is a line with 8 quote
  // markers, list indentation and an item number ("<li>" -> 38 bytes).
  const auto text = fte::mail::html_to_text(input);
  require_clean(text, input.size() * 16 + 64);
  return 0;
}
