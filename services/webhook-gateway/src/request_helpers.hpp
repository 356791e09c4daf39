#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client_error.hpp"
#include "fte/events/cloud_event.hpp"
#include "fte/http/server.hpp"

namespace fte::gateway {

/// The value of a request header, or "" when absent.
[[nodiscard]] inline std::string header_value(const http::Request& request, boost::beast::http::field name) {
  const auto it = request.find(name);
  return it == request.end() ? std::string() : std::string(it->value());
}

[[nodiscard]] inline std::string header_value(const http::Request& request, std::string_view name) {
  const auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string() : std::string(it->value());
}

/// The error body every fte API uses (http::error_response) for `error`.
[[nodiscard]] inline http::Response client_error_response(const ClientError& error, unsigned version) {
  return http::error_response(error.status, error.code, error.message,
                              error.field ? std::optional<std::string_view>(*error.field) : std::nullopt, version);
}

/// Continues the sender's trace when the request carries a valid W3C
/// `traceparent`: the event's span is a child of the sender's.
inline void continue_trace(const http::Request& request, events::CloudEvent& event) {
  if (auto parent = events::TraceParent::parse(header_value(request, "traceparent"))) {
    event.trace = parent->child();
  }
}

} // namespace fte::gateway
