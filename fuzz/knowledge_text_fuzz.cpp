// The agent's readers of outside text: a customer message through the
// analyzer (every message is), and a labelled CSV file (`fte kb examples
// import`, `fte eval`). Input: one byte choosing the reader, then the text.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "fte/knowledge/analyzer.hpp"
#include "fte/knowledge/labelled_csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    static const fte::knowledge::Analyzer analyzer;
    for (const auto& term : analyzer.terms(input))
      if (term.empty() || term.size() > input.size() + 8) __builtin_trap();
    return 0;
  }
  try {
    const auto csv = fte::knowledge::parse_labelled_csv(input, data[0] % 4 == 1 ? "article" : "expected");
    std::size_t last_line = 0;
    for (const auto& row : csv.rows) {
      // What is kept is what the database accepts: a non-empty text, a slug.
      if (row.text.empty() || row.text.size() > 10'000 || row.slug.empty() || row.line <= last_line) __builtin_trap();
      last_line = row.line;
    }
  } catch (const std::invalid_argument&) {
    // A wrong header: refused as a whole.
  }
  return 0;
}
