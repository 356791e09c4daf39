#include "fte/contracts/validator.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"

namespace fte::contracts {
namespace {

nlohmann::json read_example(const std::string& type) {
  std::ifstream in(std::string(FTE_PROTO_DIR) + "/examples/" + type + ".json");
  EXPECT_TRUE(in) << "missing example for " << type;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

// The data the services will emit, built through the library's own envelope
// code, must satisfy proto/.
events::CloudEvent library_event(const std::string& type) {
  const auto example = read_example(type);
  auto event = events::make_origin_event(event_id_from_provider("test", type), "/fte/test", type, example["data"]);
  event.subject = "ada@example.com";
  event.customerid = "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60";
  event.causationid = event.id;
  return event;
}

TEST(Validator, KnowsEveryEventTypeInProto) {
  // Every schema file in proto/events is compiled in (a file added there
  // but not to libs/contracts/CMakeLists.txt would go unchecked).
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FTE_PROTO_DIR) + "/events")) {
    const auto name = entry.path().filename().string();
    const std::string suffix = ".schema.json";
    if (name.size() > suffix.size() && name.ends_with(suffix))
      on_disk.insert(name.substr(0, name.size() - suffix.size()));
  }
  const Validator validator;
  const auto types = validator.known_types();
  EXPECT_EQ(std::set<std::string>(types.begin(), types.end()), on_disk);
}

TEST(Validator, AcceptsEventsTheLibraryBuildsForEveryType) {
  const Validator validator;
  for (const auto& type : validator.known_types()) {
    const auto violation = validator.validate(library_event(type));
    EXPECT_FALSE(violation.has_value()) << type << ": " << violation.value_or("");
  }
}

TEST(Validator, AcceptsTheHandWrittenExamples) {
  const Validator validator;
  for (const auto& type : validator.known_types()) {
    const auto example = read_example(type);
    EXPECT_FALSE(validator.validate_envelope(example)) << *validator.validate_envelope(example);
    EXPECT_FALSE(validator.validate_data(type, example["data"])) << *validator.validate_data(type, example["data"]);
  }
}

TEST(Validator, RejectsMissingFieldsWrongTypesAndUnknownTypes) {
  const Validator validator;
  auto event = library_event("fte.ticket.message.received.v1");
  event.data.erase("customer_id");
  const auto missing = validator.validate(event);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("fte.ticket.message.received.v1"), std::string::npos) << *missing;

  event = library_event("fte.ticket.message.received.v1");
  event.data["received_at"] = nlohmann::json{{"x", 1}}; // once crashed valijson's format check
  EXPECT_TRUE(validator.validate(event));

  event = library_event("fte.ticket.message.received.v1");
  event.type = "fte.no.such.event.v1";
  event.dataschema = events::dataschema_for(event.type);
  EXPECT_TRUE(validator.validate(event));

  auto envelope = events::to_json(library_event("fte.escalation.requested.v1"));
  envelope["specversion"] = "0.3";
  EXPECT_TRUE(validator.validate_envelope(envelope));
}

} // namespace
} // namespace fte::contracts
