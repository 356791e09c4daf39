#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fte::pg {

/// Builds a PostgreSQL array literal (`{"a","b",NULL}`) to pass as one text
/// parameter, so a set-based statement (`unnest($1::text[], ...)`) takes a
/// whole batch in one round trip. Every element is quoted and escaped, so any
/// text is safe; the element type comes from the cast in the statement.
class ArrayLiteral {
public:
  ArrayLiteral() { text_.push_back('{'); }

  ArrayLiteral& add(std::string_view value) {
    separate();
    text_.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\') text_.push_back('\\');
      text_.push_back(c);
    }
    text_.push_back('"');
    return *this;
  }
  ArrayLiteral& add(std::int64_t value) {
    separate();
    text_ += std::to_string(value);
    return *this;
  }
  ArrayLiteral& add(double value) {
    separate();
    text_ += std::to_string(value);
    return *this;
  }
  ArrayLiteral& add_null() {
    separate();
    text_ += "NULL";
    return *this;
  }
  /// An empty string becomes NULL (optional columns).
  ArrayLiteral& add_or_null(std::string_view value) { return value.empty() ? add_null() : add(value); }
  template <class T> ArrayLiteral& add(const std::optional<T>& value) { return value ? add(*value) : add_null(); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// The literal, closed.
  [[nodiscard]] std::string str() const { return text_ + '}'; }

private:
  void separate() {
    if (size_++ > 0) text_.push_back(',');
  }
  std::string text_;
  std::size_t size_ = 0;
};

} // namespace fte::pg
