#include "fte/knowledge/labelled_csv.hpp"

#include <stdexcept>

#include "fte/common/text.hpp"

namespace fte::knowledge {
namespace {

constexpr std::size_t kMaxText = 10'000;

// One record: its fields, the line it starts on, and whether its quoting
// was broken (an unterminated quote, or text after a closing quote).
struct Record {
  std::vector<std::string> fields;
  std::size_t line = 0;
  bool malformed = false;
};

class Reader {
public:
  explicit Reader(std::string_view input) : in_(input) {
    if (in_.substr(0, 3) == "\xEF\xBB\xBF") in_.remove_prefix(3);
  }

  bool next(Record& record) {
    if (pos_ >= in_.size()) return false;
    record = Record{};
    record.line = line_;
    std::string field;
    bool quoted = false, after_quote = false;
    while (pos_ < in_.size()) {
      const char c = in_[pos_++];
      if (quoted) {
        if (c == '"') {
          if (pos_ < in_.size() && in_[pos_] == '"') {
            field.push_back('"');
            ++pos_;
          } else {
            quoted = false;
            after_quote = true;
          }
        } else {
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        continue;
      }
      if (c == ',') {
        record.fields.push_back(std::move(field));
        field.clear();
        after_quote = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < in_.size() && in_[pos_] == '\n') ++pos_;
        ++line_;
        break;
      } else if (c == '"' && field.empty() && !after_quote) {
        quoted = true;
      } else {
        if (after_quote) record.malformed = true;
        field.push_back(c);
      }
    }
    if (quoted) {
      record.malformed = true; // the file ended inside a quote
      ++line_;
    }
    record.fields.push_back(std::move(field));
    return true;
  }

private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

} // namespace

bool valid_slug(std::string_view slug) noexcept {
  if (slug.empty() || slug.size() > 100 || slug.front() == '-') return false;
  for (const char c : slug) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return slug != kEscalate;
}

LabelledCsv parse_labelled_csv(std::string_view input, std::string_view label_column) {
  Reader reader(input);
  Record record;
  if (!reader.next(record) || record.malformed || record.fields.size() != 2 ||
      std::string(fte::trim(record.fields[0])) != "text" || std::string(fte::trim(record.fields[1])) != label_column) {
    throw std::invalid_argument("the first line must be the header text," + std::string(label_column));
  }
  LabelledCsv out;
  while (reader.next(record)) {
    if (record.fields.size() == 1 && record.fields[0].empty()) continue; // a blank line
    const auto error = [&](std::string reason) { out.errors.push_back({record.line, std::move(reason)}); };
    if (record.malformed) {
      error("malformed quoting");
    } else if (record.fields.size() != 2) {
      error("expected 2 fields (text," + std::string(label_column) + "), found " +
            std::to_string(record.fields.size()));
    } else if (!is_valid_utf8(record.fields[0]) || !is_valid_utf8(record.fields[1])) {
      error("not valid UTF-8");
    } else {
      auto text = std::string(fte::trim(record.fields[0]));
      auto label = std::string(fte::trim(record.fields[1]));
      if (text.empty()) {
        error("empty text");
      } else if (text.size() > kMaxText) {
        error("text longer than " + std::to_string(kMaxText) + " bytes");
      } else if (label != kEscalate && !valid_slug(label)) {
        error("'" + truncate_utf8(label, 100) + "' is not an article slug or " + std::string(kEscalate));
      } else {
        out.rows.push_back({std::move(text), std::move(label), record.line});
      }
    }
  }
  return out;
}

} // namespace fte::knowledge
