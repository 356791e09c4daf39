#include "reply_text.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "text.hpp"

namespace fte::mail::detail {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string_view>& lines, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out.append(lines[i]);
  }
  return out;
}

std::string_view trim_right(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
    line.remove_suffix(1);
  return line;
}

bool is_blank(std::string_view line) { return trim_ascii(line).empty(); }
bool is_quoted(std::string_view line) { return !line.empty() && line.front() == '>'; }

bool contains_ascii_case(std::string_view text, std::string_view needle) {
  if (needle.size() > text.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
    if (iequals_ascii(text.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// "On <date>, <name> wrote:" and the same line in other languages Gmail,
// Apple Mail and Thunderbird localise it to.
struct AttributionForm {
  std::string_view opening;
  std::string_view verb;
};
constexpr std::array<AttributionForm, 8> kAttributionForms{{
    {"On ", "wrote"},
    {"Le ", "a \xC3\xA9"
            "crit"}, // a écrit
    {"Am ", "schrieb"},
    {"El ", "escribi\xC3\xB3"}, // escribió
    {"Em ", "escreveu"},
    {"Il ", "ha scritto"},
    {"Op ", "schreef"},
    {"Den ", "skrev"},
}};

bool has_attribution_verb(std::string_view text) {
  for (const auto& form : kAttributionForms) {
    if (contains_ascii_case(text, form.verb)) return true;
  }
  return false;
}

bool looks_like_attribution(std::string_view candidate, bool followed_by_quote) {
  // Zoho writes "---- On ... wrote ----".
  while (!candidate.empty() && (candidate.front() == '-' || candidate.front() == ' '))
    candidate.remove_prefix(1);
  while (!candidate.empty() && (candidate.back() == '-' || candidate.back() == ' '))
    candidate.remove_suffix(1);
  if (candidate.empty() || candidate.size() > 400) return false;
  for (const auto& form : kAttributionForms) {
    if (!istarts_with_ascii(candidate, form.opening) || !contains_ascii_case(candidate, form.verb)) continue;
    const bool ends_like_one = candidate.back() == ':' ||
                               contains_ascii_case(candidate.substr(candidate.size() - form.verb.size()), form.verb);
    if (!ends_like_one) continue;
    // A customer's own sentence can start with "On" and end with "wrote:";
    // a client's attribution names a date or an address, or a quote follows.
    const bool names_date_or_address = candidate.find('@') != std::string_view::npos ||
                                       candidate.find_first_of("0123456789") != std::string_view::npos;
    if (names_date_or_address || followed_by_quote) return true;
  }
  return false;
}

std::optional<std::size_t> next_non_blank(const std::vector<std::string_view>& lines, std::size_t from) {
  for (std::size_t i = from; i < lines.size(); ++i) {
    if (!is_blank(lines[i])) return i;
  }
  return std::nullopt;
}

// The number of lines (1 to 3) an attribution starting at `i` spans, or 0.
std::size_t attribution_at(const std::vector<std::string_view>& lines, std::size_t i) {
  std::string candidate;
  for (std::size_t span = 1; span <= 3 && i + span - 1 < lines.size(); ++span) {
    const auto line = trim_ascii(lines[i + span - 1]);
    if (span > 1 && (line.empty() || is_quoted(line))) break;
    if (span > 1) candidate += ' ';
    candidate.append(line);
    const auto next = next_non_blank(lines, i + span);
    const bool followed_by_quote = next && is_quoted(lines[*next]);
    if (looks_like_attribution(candidate, followed_by_quote)) return span;
  }
  return 0;
}

bool is_original_message_separator(std::string_view line) {
  line = trim_ascii(line);
  if (line.size() < 6 || line.substr(0, 2) != "--") return false;
  while (!line.empty() && (line.front() == '-' || line.front() == ' '))
    line.remove_prefix(1);
  while (!line.empty() && (line.back() == '-' || line.back() == ' '))
    line.remove_suffix(1);
  for (const std::string_view name : {"Original Message", "Urspr\xC3\xBCngliche Nachricht", "Message d'origine",
                                      "Mensaje original", "Messaggio originale", "Oorspronkelijk bericht"}) {
    if (iequals_ascii(line, name)) return true;
  }
  return false;
}

bool starts_with_label(std::string_view line, std::initializer_list<std::string_view> labels) {
  line = trim_ascii(line);
  for (const auto label : labels) {
    if (istarts_with_ascii(line, label)) return true;
  }
  return false;
}

// Outlook's reply header: "From: ...", then "Sent: ..." (or "Date:") and
// "To: ..." / "Subject: ..." within the next few lines, in the languages
// Outlook writes it in.
bool is_outlook_header_block(const std::vector<std::string_view>& lines, std::size_t i) {
  if (!starts_with_label(lines[i], {"From:", "Von:", "De:", "De :", "Van:", "Da:"})) return false;
  bool sent = false;
  bool to = false;
  std::size_t seen = 0;
  for (std::size_t j = i + 1; j < lines.size() && seen < 6; ++j) {
    if (is_blank(lines[j])) continue;
    ++seen;
    sent = sent ||
           starts_with_label(lines[j], {"Sent:", "Date:", "Gesendet:", "Datum:", "Envoy\xC3\xA9 :", "Envoy\xC3\xA9:",
                                        "Date :", "Enviado:", "Fecha:", "Verzonden:", "Inviato:", "Data:"});
    to = to || starts_with_label(lines[j], {"To:", "Subject:", "An:", "Betreff:", "\xC3\x80 :", "\xC3\x80:", "Objet :",
                                            "Objet:", "Para:", "Asunto:", "Aan:", "Onderwerp:", "A:", "Oggetto:"});
    if (sent && to) return true;
  }
  return false;
}

bool is_underscore_rule(std::string_view line) {
  line = trim_ascii(line);
  return line.size() >= 10 && line.find_first_not_of('_') == std::string_view::npos;
}

// Where the quoted history starts, or lines.size() when there is none.
std::size_t history_start(const std::vector<std::string_view>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (is_quoted(lines[i]) || is_blank(lines[i])) continue;
    if (attribution_at(lines, i) > 0 || is_original_message_separator(lines[i])) return i;
    if (is_outlook_header_block(lines, i)) {
      // Outlook on the web draws a rule of underscores above the header.
      std::size_t start = i;
      std::size_t j = i;
      while (j > 0 && is_blank(lines[j - 1]))
        --j;
      if (j > 0 && is_underscore_rule(lines[j - 1])) start = j - 1;
      return start;
    }
  }
  return lines.size();
}

// Drops a trailing block of quoted lines (and the "X wrote:" line above it).
std::size_t without_trailing_quote(const std::vector<std::string_view>& lines, std::size_t end) {
  std::size_t cut = end;
  bool quoted_seen = false;
  while (cut > 0 && (is_blank(lines[cut - 1]) || is_quoted(lines[cut - 1]))) {
    quoted_seen = quoted_seen || is_quoted(lines[cut - 1]);
    --cut;
  }
  if (!quoted_seen) return end;
  std::size_t j = cut;
  while (j > 0 && is_blank(lines[j - 1]))
    --j;
  if (j > 0) {
    const auto line = trim_ascii(lines[j - 1]);
    if (!line.empty() && line.size() <= 300 && line.back() == ':' &&
        (has_attribution_verb(line) || line.find('@') != std::string_view::npos)) {
      cut = j - 1;
    }
  }
  return cut;
}

constexpr std::size_t kMaxBareSignatureLines = 20;

// Where the signature starts: the RFC 3676 "-- " separator, or a bare "--"
// close to the end (as clients that strip trailing spaces leave it).
std::size_t signature_start(const std::vector<std::string_view>& lines, std::size_t end) {
  for (std::size_t i = 0; i < end; ++i) {
    if (lines[i] == "-- ") return i;
    if (trim_right(lines[i]) == "--") {
      // Stops counting past the limit: a text of many "--" lines stays linear.
      std::size_t following = 0;
      for (std::size_t j = i + 1; j < end && following <= kMaxBareSignatureLines; ++j) {
        if (!is_blank(lines[j])) ++following;
      }
      if (following <= kMaxBareSignatureLines) return i;
    }
  }
  return end;
}

bool is_mobile_footer(std::string_view line) {
  line = trim_ascii(line);
  if (line.size() > 100) return false;
  for (const std::string_view footer :
       {"Sent from my ", "Sent from Mail for Windows", "Sent from Yahoo Mail", "Sent from Outlook", "Get Outlook for ",
        "Envoy\xC3\xA9 de mon ", "Von meinem ", "Enviado desde mi ", "Inviato da "}) {
    if (istarts_with_ascii(line, footer)) return true;
  }
  return false;
}

std::string tidy_ends(std::string_view text) {
  const auto lines = split_lines(text);
  std::size_t begin = 0;
  std::size_t end = lines.size();
  while (begin < end && is_blank(lines[begin]))
    ++begin;
  while (end > begin && is_blank(lines[end - 1]))
    --end;
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out += '\n';
    out.append(trim_right(lines[i]));
  }
  return out;
}

} // namespace

std::string trim_reply(std::string_view text) {
  const auto lines = split_lines(text);
  std::size_t end = history_start(lines);
  end = without_trailing_quote(lines, end);
  end = signature_start(lines, end);
  while (end > 0 && is_blank(lines[end - 1]))
    --end;
  if (end > 0 && is_mobile_footer(lines[end - 1])) --end;
  auto trimmed = tidy_ends(join_lines(lines, end));
  if (trimmed.empty()) return tidy_ends(text);
  return trimmed;
}

std::string unflow(std::string_view text, bool delete_space) {
  std::string out;
  std::string paragraph;
  std::size_t paragraph_depth = 0;
  bool open = false; // the paragraph's last line was soft-broken
  const auto emit = [&] {
    if (!out.empty()) out += '\n';
    if (paragraph_depth > 0) {
      out.append(paragraph_depth, '>');
      out += ' ';
    }
    out += paragraph;
    paragraph.clear();
  };
  bool first = true;
  for (auto line : split_lines(text)) {
    std::size_t depth = 0;
    while (depth < line.size() && line[depth] == '>')
      ++depth;
    line.remove_prefix(depth);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1); // space-stuffing
    const bool flowed = !line.empty() && line.back() == ' ' && line != "-- ";
    if (!first && open && depth == paragraph_depth) {
      paragraph.append(line);
    } else {
      if (!first) emit();
      paragraph.assign(line);
      paragraph_depth = depth;
    }
    first = false;
    open = flowed;
    if (flowed && delete_space) paragraph.pop_back();
  }
  if (!first) emit();
  return out;
}

} // namespace fte::mail::detail
