#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fte/knowledge/labels.hpp"

namespace fte::knowledge {

/// A labelled file as read: the good rows, and the bad ones by line.
struct LabelledCsv {
  std::vector<LabelledText> rows;
  std::vector<RowError> errors;
};

/// Reads CSV (RFC 4180: comma-separated, fields optionally in double
/// quotes with "" for a quote, CRLF or LF, a UTF-8 byte-order mark allowed)
/// whose header is `text,<label_column>` (`article` for past resolutions,
/// `expected` for calibration and evaluation sets). Each row gives a text
/// and a label (an article's slug or `escalate`). A row with another number
/// of fields, an empty text, a text over 10,000 bytes, a label that is not a
/// slug, or invalid UTF-8 is an error naming its line; the good rows are
/// kept. @throws std::invalid_argument when the header is wrong (nothing
/// can be read).
[[nodiscard]] LabelledCsv parse_labelled_csv(std::string_view input, std::string_view label_column);

} // namespace fte::knowledge
