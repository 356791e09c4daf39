// valijson aborts on internal errors unless told to throw; a hostile record
// must become a DLQ entry, never a crashed consumer.
#define VALIJSON_USE_EXCEPTIONS 1

#include "fte/contracts/validator.hpp"

#include <stdexcept>
#include <vector>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "fte/common/embedded_file.hpp"

namespace fte::contracts {
namespace detail {
const std::vector<EmbeddedFile>& proto_files();
}

struct Validator::Schemas {
  std::unique_ptr<valijson::Schema> envelope;
  std::map<std::string, std::unique_ptr<valijson::Schema>, std::less<>> events; // by type
};

namespace {

// RFC 3339 date-time as JSON Schema's `format` means it; used where a
// schema says `format: date-time` without a `pattern` of its own.
constexpr const char* kDateTimePattern =
    "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):"
    "[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

// Rewrites the keywords valijson would turn into a std::regex per check:
//  - `format: date-time` is dropped where a sibling `pattern` states the
//    rule, else replaced by kDateTimePattern;
//  - `patternProperties` with one pattern beside `additionalProperties:
//    false` becomes `propertyNames` (a name is a declared property or
//    matches the pattern) plus `additionalProperties` = the pattern's
//    subschema, which accepts the same objects.
// Anything else is left as it is.
void compile_friendly_schema(nlohmann::json& node) {
  if (node.is_array()) {
    for (auto& item : node)
      compile_friendly_schema(item);
    return;
  }
  if (!node.is_object()) return;
  if (auto format = node.find("format"); format != node.end() && *format == "date-time") {
    if (!node.contains("pattern")) node["pattern"] = kDateTimePattern;
    node.erase("format");
  }
  if (auto pattern_properties = node.find("patternProperties");
      pattern_properties != node.end() && pattern_properties->is_object() && pattern_properties->size() == 1 &&
      node.value("additionalProperties", nlohmann::json(true)) == false && !node.contains("propertyNames")) {
    nlohmann::json declared = nlohmann::json::array();
    if (auto properties = node.find("properties"); properties != node.end() && properties->is_object()) {
      for (auto it = properties->begin(); it != properties->end(); ++it)
        declared.push_back(it.key());
    }
    const std::string pattern = pattern_properties->begin().key();
    const nlohmann::json subschema = pattern_properties->begin().value();
    node["propertyNames"] = {{"anyOf", nlohmann::json::array({{{"enum", declared}}, {{"pattern", pattern}}})}};
    node["additionalProperties"] = subschema;
    node.erase("patternProperties");
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it.key() != "enum" && it.key() != "const") compile_friendly_schema(it.value());
  }
}

std::unique_ptr<valijson::Schema> parse_schema(const EmbeddedFile& file) {
  auto document = nlohmann::json::parse(file.text);
  compile_friendly_schema(document);
  auto schema = std::make_unique<valijson::Schema>();
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  const valijson::adapters::NlohmannJsonAdapter adapter(document);
  try {
    parser.populateSchema(adapter, *schema);
  } catch (const std::exception& e) {
    throw std::runtime_error("proto/" + std::string(file.name) + " is not a usable JSON Schema: " + e.what());
  }
  return schema;
}

std::optional<std::string> check(const valijson::Schema& schema, const nlohmann::json& value, const std::string& what) {
  // valijson compiles each `pattern` into a std::regex and caches it in the
  // Validator object; a fresh object per call recompiled them for every
  // event. One object per thread keeps the cache (validate() mutates it, so
  // it cannot be shared between threads).
  thread_local valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  const valijson::adapters::NlohmannJsonAdapter target(value);
  try {
    if (validator.validate(schema, target, &results)) {
      return std::nullopt;
    }
  } catch (const std::exception& e) {
    return what + ": cannot be validated: " + e.what();
  }
  std::string message = what + ":";
  valijson::ValidationResults::Error error;
  int shown = 0;
  while (results.popError(error) && shown < 3) {
    std::string path;
    for (const auto& part : error.context)
      path += part;
    message += " " + path + ": " + error.description + ";";
    ++shown;
  }
  return message;
}

} // namespace

Validator::Validator() : schemas_(std::make_unique<Schemas>()) {
  constexpr std::string_view kEventsDir = "events/";
  constexpr std::string_view kSuffix = ".schema.json";
  for (const auto& file : detail::proto_files()) {
    if (file.name == "cloudevent.schema.json") {
      schemas_->envelope = parse_schema(file);
    } else if (file.name.starts_with(kEventsDir) && file.name.ends_with(kSuffix)) {
      const auto type = file.name.substr(kEventsDir.size(), file.name.size() - kEventsDir.size() - kSuffix.size());
      schemas_->events.emplace(std::string(type), parse_schema(file));
    }
  }
  if (!schemas_->envelope) {
    throw std::runtime_error("proto/cloudevent.schema.json is not embedded");
  }
}

Validator::~Validator() = default;

std::optional<std::string> Validator::validate_envelope(const nlohmann::json& envelope) const {
  return check(*schemas_->envelope, envelope, "envelope");
}

std::optional<std::string> Validator::validate_data(const std::string& type, const nlohmann::json& data) const {
  const auto it = schemas_->events.find(type);
  if (it == schemas_->events.end()) {
    return "no schema in proto/ for event type '" + type + "'";
  }
  return check(*it->second, data, "data of " + type);
}

std::optional<std::string> Validator::validate(const events::CloudEvent& event) const {
  if (auto violation = validate_envelope(events::to_json(event))) {
    return violation;
  }
  if (event.dataschema != events::dataschema_for(event.type)) {
    return "dataschema '" + event.dataschema + "' does not name the schema of type '" + event.type + "'";
  }
  return validate_data(event.type, event.data);
}

std::optional<std::string> Validator::validate_received(const nlohmann::json& envelope) const {
  if (auto violation = validate_envelope(envelope)) {
    return violation;
  }
  // The envelope schema guarantees both are strings.
  const auto& type = envelope["type"].get_ref<const std::string&>();
  if (envelope["dataschema"].get_ref<const std::string&>() != events::dataschema_for(type)) {
    return "dataschema '" + envelope["dataschema"].get<std::string>() + "' does not name the schema of type '" + type +
           "'";
  }
  return validate_data(type, envelope["data"]);
}

std::vector<std::string> Validator::known_types() const {
  std::vector<std::string> types;
  for (const auto& [type, schema] : schemas_->events)
    types.push_back(type);
  return types;
}

} // namespace fte::contracts
