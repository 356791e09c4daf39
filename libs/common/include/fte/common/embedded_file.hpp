#pragma once

#include <string_view>

namespace fte {

/// A file compiled into the binary (see fte_embed_files in cmake/FteTargets.cmake).
struct EmbeddedFile {
  std::string_view name; ///< path relative to the embedding base directory
  std::string_view text;
};

} // namespace fte
