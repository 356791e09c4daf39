#pragma once

#include "fte/common/child_process.hpp"

namespace fte::testing {

using ChildProcess = fte::ChildProcess;

} // namespace fte::testing
