#include "fte/http/testing/openapi_answers.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace fte::http::testing {
namespace {

constexpr std::array<std::string_view, 3> kDocumentedHeaders = {"Retry-After", "Allow", "WWW-Authenticate"};

std::string media_type_of(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  return std::string(type);
}

// Follows a local "$ref" ("#/components/...") until the node is not one.
const nlohmann::json& resolve(const nlohmann::json& openapi, const nlohmann::json& node) {
  const nlohmann::json* current = &node;
  for (int depth = 0; current->is_object() && current->contains("$ref"); ++depth) {
    const auto ref = (*current)["$ref"].get<std::string>();
    if (ref.rfind("#/", 0) != 0 || depth > 16) throw std::runtime_error("openapi: unsupported $ref " + ref);
    current = &openapi.at(nlohmann::json::json_pointer(ref.substr(1)));
  }
  return *current;
}

// Collects the enums of `error.code` and `dropped` anywhere in a schema,
// through $ref and allOf.
void collect_codes(const nlohmann::json& openapi, const nlohmann::json& node, std::set<std::string>& codes) {
  const auto& schema = resolve(openapi, node);
  if (!schema.is_object()) return;
  if (schema.contains("allOf")) {
    for (const auto& part : schema["allOf"])
      collect_codes(openapi, part, codes);
  }
  if (!schema.contains("properties")) return;
  const auto& properties = schema["properties"];
  const auto add_enum = [&](const nlohmann::json& property) {
    const auto& resolved = resolve(openapi, property);
    if (resolved.contains("enum")) {
      for (const auto& value : resolved["enum"])
        codes.insert(value.get<std::string>());
    }
  };
  if (properties.contains("dropped")) add_enum(properties["dropped"]);
  if (properties.contains("error")) {
    const auto& error = resolve(openapi, properties["error"]);
    if (error.contains("properties") && error["properties"].contains("code")) add_enum(error["properties"]["code"]);
  }
}

std::string upper(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string join(const std::set<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items)
    out += (out.size() > 1 ? ", " : "") + (item.empty() ? std::string("<none>") : item);
  return out + "}";
}

} // namespace

nlohmann::json load_openapi(const std::string& path) {
  const std::string command =
      "/usr/bin/python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)' '" +
      path + "' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run /usr/bin/python3 to read " + path);
  std::string out;
  std::array<char, 8192> buffer{};
  while (const auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get()))
    out.append(buffer.data(), n);
  const int status = ::pclose(pipe.release());
  auto document = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (status != 0 || !document.is_object()) {
    throw std::runtime_error("reading " + path + " with python3-yaml failed (deploy/local/fte-local installs it):\n" +
                             out.substr(0, 2000));
  }
  return document;
}

Answers documented_answers(const nlohmann::json& openapi, std::string_view tag) {
  Answers answers;
  static constexpr std::array<std::string_view, 8> kMethods = {"get",     "put",  "post",  "delete",
                                                               "options", "head", "patch", "trace"};
  for (const auto& [path, item] : openapi.at("paths").items()) {
    for (const auto method : kMethods) {
      if (!item.contains(std::string(method))) continue;
      const auto& operation = item[std::string(method)];
      const auto tags = operation.value("tags", nlohmann::json::array());
      if (std::find(tags.begin(), tags.end(), std::string(tag)) == tags.end()) continue;
      for (const auto& [status, response_node] : operation.at("responses").items()) {
        const auto& response = resolve(openapi, response_node);
        auto& facts = answers[{path, upper(std::string(method)), std::stoi(status)}];
        if (response.contains("content")) {
          for (const auto& [media_type, content] : response["content"].items()) {
            facts.media_types.insert(media_type_of(media_type));
            if (content.contains("schema")) collect_codes(openapi, content["schema"], facts.codes);
          }
        }
        if (response.contains("headers")) {
          for (const auto& [name, header] : response["headers"].items())
            facts.headers.insert(name);
        }
      }
    }
  }
  const auto listener = openapi.value("x-fte-listener-answers", nlohmann::json::object());
  for (const auto& entry : listener.value(std::string(tag), nlohmann::json::array())) {
    auto& facts = answers[{std::string(kAnyRoute), std::string(kAnyRoute), entry.at("status").get<int>()}];
    if (entry.contains("code")) facts.codes.insert(entry["code"].get<std::string>());
    if (entry.contains("media_type")) facts.media_types.insert(entry["media_type"].get<std::string>());
    if (entry.contains("header")) facts.headers.insert(entry["header"].get<std::string>());
  }
  return answers;
}

Answers table_answers(std::span<const DocumentedAnswer> table) {
  Answers answers;
  for (const auto& row : table) {
    auto& facts = answers[{std::string(row.path), std::string(row.method), row.status}];
    if (!row.code.empty()) facts.codes.emplace(row.code);
    if (!row.media_type.empty()) facts.media_types.emplace(row.media_type);
    if (!row.header.empty()) facts.headers.emplace(row.header);
  }
  return answers;
}

std::vector<std::string> differences(const Answers& expected, std::string_view expected_name, const Answers& actual,
                                     std::string_view actual_name) {
  std::vector<std::string> out;
  const auto name = [](const AnswerKey& key) { return key.method + " " + key.path + " " + std::to_string(key.status); };
  for (const auto& [key, facts] : expected) {
    const auto it = actual.find(key);
    if (it == actual.end()) {
      out.push_back(name(key) + " (codes " + join(facts.codes) + ") is in " + std::string(expected_name) +
                    " but not in " + std::string(actual_name));
      continue;
    }
    const auto compare = [&](const char* what, const std::set<std::string>& a, const std::set<std::string>& b) {
      if (a != b) {
        out.push_back(name(key) + " " + what + ": " + std::string(expected_name) + " " + join(a) + ", " +
                      std::string(actual_name) + " " + join(b));
      }
    };
    compare("codes", facts.codes, it->second.codes);
    compare("media types", facts.media_types, it->second.media_types);
    compare("headers", facts.headers, it->second.headers);
  }
  for (const auto& [key, facts] : actual) {
    if (!expected.contains(key)) {
      out.push_back(name(key) + " (codes " + join(facts.codes) + ") is in " + std::string(actual_name) +
                    " but not in " + std::string(expected_name));
    }
  }
  return out;
}

void record(Answers& observed, const AnswerKey& key, const Response& response) {
  auto& facts = observed[key];
  const auto content_type = response[boost::beast::http::field::content_type];
  const auto media_type = media_type_of(std::string_view(content_type.data(), content_type.size()));
  if (!media_type.empty()) facts.media_types.insert(media_type);
  if (media_type == "application/json") {
    const auto body = nlohmann::json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.contains("error") && body["error"].is_object() && body["error"].contains("code")) {
      facts.codes.insert(body["error"]["code"].get<std::string>());
    }
    if (body.is_object() && body.contains("dropped") && body["dropped"].is_string()) {
      facts.codes.insert(body["dropped"].get<std::string>());
    }
  }
  // An HTML answer page carries no machine code: OpenAPI lists codes per
  // status, and the JSON twin of the same request records them.
  for (const auto header : kDocumentedHeaders) {
    if (response.find(boost::beast::string_view(header.data(), header.size())) != response.end()) {
      facts.headers.emplace(header);
    }
  }
}

} // namespace fte::http::testing
