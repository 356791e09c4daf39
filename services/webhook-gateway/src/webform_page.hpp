#pragma once

#include <string_view>

#include "fte/http/server.hpp"

namespace fte::gateway {

/// The quality (0..1) an HTTP Accept header gives `media_type` ("text/html"):
/// the q of the most specific range that matches it (RFC 9110 section 12.5.1),
/// 0 when none does. A missing or empty header accepts everything (1).
[[nodiscard]] double accept_quality(std::string_view accept, std::string_view media_type);

/// True for a browser's own form submission: the body is form-encoded and
/// Accept ranks text/html above application/json. Such a request comes from a
/// person whose page has no script (or whose script did not run), and a JSON
/// body would leave them looking at raw text. API clients and the support
/// page's script (Accept: application/json) still get JSON.
[[nodiscard]] bool wants_answer_page(std::string_view content_type, std::string_view accept);

/// The webform handler's JSON answer turned into a small HTML page for a
/// person: a thank-you with the reference (the event id) for a 202, the error
/// in words otherwise. Status and Retry-After are kept, so the answer means
/// the same to any machine in between (and to proto/openapi.yaml).
[[nodiscard]] http::Response answer_page(const http::Response& json_answer);

} // namespace fte::gateway
