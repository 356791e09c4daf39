#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "fte/common/ids.hpp"
#include "fte/events/trace_context.hpp"

namespace fte::events {

/// The structured-mode content type of every fte record value.
inline constexpr std::string_view kCloudEventsContentType = "application/cloudevents+json; charset=UTF-8";

/// Header names beside the body (ARCHITECTURE.md, Events).
namespace header {
inline constexpr std::string_view kContentType = "content-type";
inline constexpr std::string_view kTraceParent = "traceparent";
inline constexpr std::string_view kCorrelationId = "correlation_id";
inline constexpr std::string_view kCeType = "ce_type";
} // namespace header

struct Header {
  std::string name;
  std::string value;
  friend bool operator==(const Header&, const Header&) = default;
};
using Headers = std::vector<Header>;

/// A string member of a JSON object (an event's `data`), or `fallback` when
/// it is absent or not a string. For fields the schema already checked.
[[nodiscard]] std::string string_field(const nlohmann::json& object, const char* name, std::string fallback = {});

/// The first value of a header, or nullopt.
[[nodiscard]] std::optional<std::string> find_header(const Headers& headers, std::string_view name);

/// A CloudEvents 1.0 event as fte puts it on the wire. `customerid` and
/// `causationid` are empty until known; the trace context travels in the
/// `traceparent` header, not in the body.
struct CloudEvent {
  std::string id;
  std::string source;
  std::string type;
  std::chrono::system_clock::time_point time;
  std::string subject;
  std::string datacontenttype = "application/json";
  std::string dataschema;
  nlohmann::json data = nlohmann::json::object();
  std::string correlationid;
  std::string causationid;
  std::string customerid;
  TraceParent trace;

  friend bool operator==(const CloudEvent&, const CloudEvent&) = default;
};

/// `urn:fte:schema:<type>`, which proto/README.md maps to
/// proto/events/<type>.schema.json.
[[nodiscard]] std::string dataschema_for(std::string_view type);

/// The first event of a chain: its id comes from the outside world (see
/// fte::event_id_from_provider) or is random; the correlation id is the id
/// unless the sender gave one.
[[nodiscard]] CloudEvent make_origin_event(EventId id, std::string source, std::string type, nlohmann::json data,
                                           std::string correlation_id = {});

/// An event caused by `cause`: deterministic id from (cause, producer,
/// output), same correlation id and customer, causation id = cause.id, a child
/// span of the cause's trace.
[[nodiscard]] CloudEvent derive_event(const CloudEvent& cause, std::string_view producer, std::string_view output,
                                      std::string source, std::string type, nlohmann::json data);

[[nodiscard]] nlohmann::json to_json(const CloudEvent& event);
/// The record value: the event as compact JSON.
[[nodiscard]] std::string serialize(const CloudEvent& event);
/// The Kafka headers that go beside the value.
[[nodiscard]] Headers kafka_headers(const CloudEvent& event);

/// Why a record value is not an fte CloudEvent.
struct EnvelopeError {
  std::string reason;
};

/// Parses and checks a record value: valid JSON, an object, specversion 1.0,
/// the required attributes present and of the right type, a parseable time.
/// The trace context is taken from `headers` when present and valid.
[[nodiscard]] std::variant<CloudEvent, EnvelopeError> parse_event(std::string_view value, const Headers& headers = {});
/// The same checks on a value already parsed as JSON (a consumer parses the
/// bytes once, validates that document against proto/, then reads it here).
/// Takes `j` by value: a caller done with the document moves it in, and
/// `data` is moved rather than copied.
[[nodiscard]] std::variant<CloudEvent, EnvelopeError> event_from_json(nlohmann::json j, const Headers& headers = {});

} // namespace fte::events
