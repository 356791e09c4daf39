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

std::unique_ptr<valijson::Schema> parse_schema(const EmbeddedFile& file) {
  const auto document = nlohmann::json::parse(file.text);
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

std::vector<std::string> Validator::known_types() const {
  std::vector<std::string> types;
  for (const auto& [type, schema] : schemas_->events)
    types.push_back(type);
  return types;
}

} // namespace fte::contracts
