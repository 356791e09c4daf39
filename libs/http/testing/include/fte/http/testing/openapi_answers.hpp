#pragma once

#include <compare>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/http/documented_answer.hpp"
#include "fte/http/server.hpp"

namespace fte::http::testing {

/// Answers grouped the way OpenAPI groups them: by route, method and status.
struct AnswerKey {
  std::string path;
  std::string method;
  int status = 0;
  auto operator<=>(const AnswerKey&) const = default;
};

/// What one (route, method, status) can carry: its error codes, body media
/// types and the documented headers among Retry-After, Allow, WWW-Authenticate.
struct AnswerFacts {
  std::set<std::string> codes;
  std::set<std::string> media_types;
  std::set<std::string> headers;
  bool operator==(const AnswerFacts&) const = default;
};

using Answers = std::map<AnswerKey, AnswerFacts>;

/// proto/openapi.yaml as JSON: read with Debian's /usr/bin/python3 and
/// PyYAML (python3-yaml), the one YAML parser the build machines have.
/// @throws std::runtime_error naming the file and the converter's output.
[[nodiscard]] nlohmann::json load_openapi(const std::string& path = FTE_OPENAPI_YAML);

/// Every answer the document gives for the operations tagged `tag`, plus its
/// `x-fte-listener-answers.<tag>` under route and method kAnyRoute. Codes come
/// from the `enum` of `error.code` (and of `dropped`) in each response schema.
[[nodiscard]] Answers documented_answers(const nlohmann::json& openapi, std::string_view tag);

/// The same shape from a listener's table.
[[nodiscard]] Answers table_answers(std::span<const DocumentedAnswer> table);

/// One line per difference between `expected` and `actual`, in either
/// direction, each naming the key, the facts and where they are missing;
/// empty when they agree.
[[nodiscard]] std::vector<std::string> differences(const Answers& expected, std::string_view expected_name,
                                                   const Answers& actual, std::string_view actual_name);

/// Adds what `response` carries under `key` (its code from the JSON body,
/// its media type, the documented headers it has).
void record(Answers& observed, const AnswerKey& key, const Response& response);

} // namespace fte::http::testing
