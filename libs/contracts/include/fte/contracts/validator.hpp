#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fte/events/cloud_event.hpp"

namespace fte::contracts {

/// Checks events against proto/, the one source of truth for the wire: the
/// envelope against proto/cloudevent.schema.json and `data` against
/// proto/events/<type>.schema.json (the schema the `dataschema` urn names).
/// The schemas are compiled into the binary, so what a service checks is
/// what it was built with. Thread-safe after construction.
///
/// No regular expression is compiled per check: valijson (0.6 in Debian 12)
/// builds a std::regex for every `format: date-time` and every
/// `patternProperties` key on each call. The loader rewrites those keywords
/// into `pattern` constraints, which valijson compiles once per thread and
/// caches; the patterns already in proto/ carry the rules (see
/// compile_friendly_schema in validator.cpp).
class Validator {
public:
  /// @throws std::runtime_error when an embedded schema does not parse.
  Validator();
  ~Validator();
  Validator(const Validator&) = delete;
  Validator& operator=(const Validator&) = delete;

  /// nullopt when valid, else a description naming the failing location.
  [[nodiscard]] std::optional<std::string> validate_envelope(const nlohmann::json& envelope) const;
  /// Checks `data` against the schema for `type`. Unknown types are violations.
  [[nodiscard]] std::optional<std::string> validate_data(const std::string& type, const nlohmann::json& data) const;
  /// Both of the above, for an event as the library serialises it (tests
  /// and producers of new events; a consumer checks what it received).
  [[nodiscard]] std::optional<std::string> validate(const events::CloudEvent& event) const;
  /// Both, for a record value as it arrived, parsed once: the envelope, its
  /// `dataschema` against its `type`, and `data` against that schema.
  [[nodiscard]] std::optional<std::string> validate_received(const nlohmann::json& envelope) const;

  /// The event types proto/ defines.
  [[nodiscard]] std::vector<std::string> known_types() const;

private:
  struct Schemas;
  std::unique_ptr<Schemas> schemas_;
};

} // namespace fte::contracts
