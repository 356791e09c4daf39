#pragma once

#include <string_view>

namespace fte::http {

/// One answer an HTTP listener can give, as proto/openapi.yaml documents it.
/// Each listener keeps the list of its answers beside its handlers; unit
/// tests exercise the handlers against that list and compare the list with
/// the OpenAPI document in both directions, so neither can drift.
struct DocumentedAnswer {
  /// The route, e.g. "/webhooks/webform"; kAnyRoute for answers outside any
  /// route (unknown path, wrong method, malformed request, body too large).
  std::string_view path;
  /// "POST", "GET"; kAnyRoute with path kAnyRoute.
  std::string_view method;
  int status = 0;
  /// The error body's `code` (or, for an acknowledged-but-dropped push, its
  /// `dropped` reason); empty for an answer that carries none.
  std::string_view code;
  /// Without parameters: "application/json", "text/html"; empty for no body.
  std::string_view media_type;
  /// A header the answer carries that the document names: "Retry-After",
  /// "Allow" or "WWW-Authenticate"; empty for none.
  std::string_view header = {};
};

inline constexpr std::string_view kAnyRoute = "*";

} // namespace fte::http
