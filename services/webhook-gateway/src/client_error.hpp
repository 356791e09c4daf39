#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fte/http/server.hpp"

namespace fte::gateway {

/// Bad input, as the HTTP answer it becomes: status, a stable machine code,
/// a sentence for people, and the offending field where there is one.
struct ClientError {
  http::Status status;
  std::string code;
  std::string message;
  std::optional<std::string> field;

  /// The error body every fte API uses (http::error_response).
  [[nodiscard]] http::Response to_response(unsigned version) const {
    return http::error_response(status, code, message, field ? std::optional<std::string_view>(*field) : std::nullopt,
                                version);
  }
};

/// The value of a request header, or "" when absent.
[[nodiscard]] inline std::string header_value(const http::Request& request, boost::beast::http::field name) {
  const auto it = request.find(name);
  return it == request.end() ? std::string() : std::string(it->value());
}

[[nodiscard]] inline std::string header_value(const http::Request& request, std::string_view name) {
  const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string() : std::string(it->value());
}

} // namespace fte::gateway
