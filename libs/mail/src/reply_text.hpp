#pragma once

#include <string>
#include <string_view>

// What a customer wrote, told apart from what their mail client added.
// Input and output are sanitized text with LF line endings.
namespace fte::mail::detail {

/// Cuts the quoted history and the signature off a reply:
/// - from an attribution line ("On <date>, <name> wrote:", also wrapped over
///   two lines, and its French, German, Spanish, Portuguese, Italian and
///   Dutch forms), an "-----Original Message-----" separator, or an Outlook
///   header block ("From:" followed by "Sent:"/"Date:" and "To:"/"Subject:");
/// - a trailing block of "> " quoted lines (inline answers between quotes stay);
/// - from the signature separator ("-- ") and a trailing "Sent from my ..." line.
/// When nothing would be left (a message that is all quote) the text is
/// returned whole, since an empty message helps nobody.
[[nodiscard]] std::string trim_reply(std::string_view text);

/// RFC 3676 format=flowed: joins soft-broken lines (those ending in a space)
/// of the same quote depth and removes space-stuffing; with DelSp=yes the
/// space at a soft break is removed too.
[[nodiscard]] std::string unflow(std::string_view text, bool delete_space);

} // namespace fte::mail::detail
