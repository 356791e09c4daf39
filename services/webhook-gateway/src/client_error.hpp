#pragma once

#include <optional>
#include <string>

#include <boost/beast/http/status.hpp>

namespace fte::http {
// The status enum alone (as in fte/http/server.hpp): the parsers need no
// HTTP server, so their fuzz targets build without one.
using Status = boost::beast::http::status;
} // namespace fte::http

namespace fte::gateway {

/// Bad input, as the HTTP answer it becomes: status, a stable machine code,
/// a sentence for people, and the offending field where there is one.
struct ClientError {
  http::Status status;
  std::string code;
  std::string message;
  std::optional<std::string> field;
};

} // namespace fte::gateway
