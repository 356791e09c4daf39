#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fte::knowledge {

/// The word an import file uses for "no article: hand over".
inline constexpr std::string_view kEscalate = "escalate";

/// Input rows of `fte kb examples import` / calibration import, by slug.
struct LabelledText {
  std::string text;
  std::string slug;     ///< an article's slug, or kEscalate
  std::size_t line = 0; ///< where it came from, for error reports
};

/// A row refused with the reason, by its line in the input.
struct RowError {
  std::size_t line = 0;
  std::string reason;
};

/// A slug is 1–100 of [a-z0-9-], starting with a letter or digit, and not
/// the word kEscalate.
[[nodiscard]] bool valid_slug(std::string_view slug) noexcept;

} // namespace fte::knowledge
