#pragma once

#include <vector>

#include "fte/pg/migrator.hpp"

namespace fte::schema {

/// Every migration in libs/schema/migrations, in version order, embedded at
/// build time.
[[nodiscard]] std::vector<pg::Migration> migrations();

} // namespace fte::schema
