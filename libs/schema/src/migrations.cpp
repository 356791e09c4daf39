#include "fte/schema/migrations.hpp"

#include <charconv>
#include <stdexcept>
#include <vector>

#include "fte/common/embedded_file.hpp"

namespace fte::schema {
namespace detail {
const std::vector<EmbeddedFile>& migration_files();
}

std::vector<pg::Migration> migrations() {
  std::vector<pg::Migration> result;
  for (const auto& file : detail::migration_files()) {
    // "0001_initial_schema.sql" -> version 1, name "initial_schema"
    const auto underscore = file.name.find('_');
    const auto dot = file.name.rfind(".sql");
    int version = 0;
    const auto [ptr, ec] = std::from_chars(file.name.data(), file.name.data() + underscore, version);
    if (underscore == std::string_view::npos || dot == std::string_view::npos || ec != std::errc{} ||
        ptr != file.name.data() + underscore) {
      throw std::logic_error("migration file name must be NNNN_name.sql: " + std::string(file.name));
    }
    result.push_back(
        {version, std::string(file.name.substr(underscore + 1, dot - underscore - 1)), std::string(file.text)});
  }
  return result;
}

} // namespace fte::schema
