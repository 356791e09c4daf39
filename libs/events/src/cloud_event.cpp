#include "fte/events/cloud_event.hpp"

#include "fte/events/json_writer.hpp"

#include "fte/common/time.hpp"

namespace fte::events {

std::string string_field(const nlohmann::json& object, const char* name, std::string fallback) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::move(fallback);
}

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) {
      return h.value;
    }
  }
  return std::nullopt;
}

std::string dataschema_for(std::string_view type) { return "urn:fte:schema:" + std::string(type); }

CloudEvent make_origin_event(EventId id, std::string source, std::string type, nlohmann::json data,
                             std::string correlation_id) {
  CloudEvent event;
  event.id = id.str();
  event.source = std::move(source);
  event.dataschema = dataschema_for(type);
  event.type = std::move(type);
  event.time = std::chrono::system_clock::now();
  event.data = std::move(data);
  event.correlationid = correlation_id.empty() ? event.id : std::move(correlation_id);
  event.trace = TraceParent::new_root();
  return event;
}

CloudEvent derive_event(const CloudEvent& cause, std::string_view producer, std::string_view output, std::string source,
                        std::string type, nlohmann::json data) {
  CloudEvent event;
  event.id = derived_event_id(EventId(cause.id), producer, output).str();
  event.source = std::move(source);
  event.dataschema = dataschema_for(type);
  event.type = std::move(type);
  event.time = std::chrono::system_clock::now();
  event.subject = cause.subject;
  event.data = std::move(data);
  event.correlationid = cause.correlationid;
  event.causationid = cause.id;
  event.customerid = cause.customerid;
  event.trace = cause.trace.trace_id.empty() ? TraceParent::new_root() : cause.trace.child();
  return event;
}

nlohmann::json to_json(const CloudEvent& event) {
  nlohmann::json j = {
      {"specversion", "1.0"},
      {"id", event.id},
      {"source", event.source},
      {"type", event.type},
      {"time", format_rfc3339(event.time)},
      {"datacontenttype", event.datacontenttype},
      {"dataschema", event.dataschema},
      {"correlationid", event.correlationid},
      {"data", event.data},
  };
  if (!event.subject.empty()) j["subject"] = event.subject;
  if (!event.causationid.empty()) j["causationid"] = event.causationid;
  if (!event.customerid.empty()) j["customerid"] = event.customerid;
  return j;
}

std::string serialize(const CloudEvent& event) {
  // Written directly, in to_json's (sorted) key order, so the bytes equal
  // to_json(event).dump(): no DOM of the envelope is built per event.
  std::string out;
  out.reserve(512 + (event.data.is_object() ? 64 * event.data.size() : 0));
  const auto attribute = [&out](std::string_view name, std::string_view value, bool first = false) {
    if (!first) out.push_back(',');
    out.push_back('"');
    out.append(name);
    out += "\":";
    append_json_string(out, value);
  };
  out.push_back('{');
  bool first = true;
  if (!event.causationid.empty()) {
    attribute("causationid", event.causationid, first);
    first = false;
  }
  attribute("correlationid", event.correlationid, first);
  if (!event.customerid.empty()) attribute("customerid", event.customerid);
  out += ",\"data\":";
  append_json(out, event.data);
  attribute("datacontenttype", event.datacontenttype);
  attribute("dataschema", event.dataschema);
  attribute("id", event.id);
  attribute("source", event.source);
  attribute("specversion", "1.0");
  if (!event.subject.empty()) attribute("subject", event.subject);
  attribute("time", format_rfc3339(event.time));
  attribute("type", event.type);
  out.push_back('}');
  return out;
}

Headers kafka_headers(const CloudEvent& event) {
  return {
      {std::string(header::kContentType), std::string(kCloudEventsContentType)},
      {std::string(header::kTraceParent), event.trace.to_header()},
      {std::string(header::kCorrelationId), event.correlationid},
      {std::string(header::kCeType), event.type},
  };
}

namespace {

// Reads a required string attribute; returns false and sets `error` otherwise.
bool read_string(const nlohmann::json& j, const char* name, bool required, std::string& out, EnvelopeError& error) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) {
      error.reason = std::string("missing required attribute '") + name + "'";
      return false;
    }
    return true;
  }
  if (!it->is_string()) {
    error.reason = std::string("attribute '") + name + "' must be a string";
    return false;
  }
  out = it->get<std::string>();
  if (required && out.empty()) {
    error.reason = std::string("attribute '") + name + "' must not be empty";
    return false;
  }
  return true;
}

} // namespace

std::variant<CloudEvent, EnvelopeError> parse_event(std::string_view value, const Headers& headers) {
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return EnvelopeError{"value is not valid JSON"};
  }
  return event_from_json(std::move(j), headers);
}

std::variant<CloudEvent, EnvelopeError> event_from_json(nlohmann::json j, const Headers& headers) {
  if (!j.is_object()) {
    return EnvelopeError{"value is not a JSON object"};
  }
  CloudEvent event;
  EnvelopeError error;
  std::string specversion, time;
  if (!read_string(j, "specversion", true, specversion, error)) return error;
  if (specversion != "1.0") return EnvelopeError{"unsupported specversion '" + specversion + "'"};
  if (!read_string(j, "id", true, event.id, error) || !read_string(j, "source", true, event.source, error) ||
      !read_string(j, "type", true, event.type, error) || !read_string(j, "time", true, time, error) ||
      !read_string(j, "correlationid", true, event.correlationid, error) ||
      !read_string(j, "subject", false, event.subject, error) ||
      !read_string(j, "datacontenttype", false, event.datacontenttype, error) ||
      !read_string(j, "dataschema", false, event.dataschema, error) ||
      !read_string(j, "causationid", false, event.causationid, error) ||
      !read_string(j, "customerid", false, event.customerid, error)) {
    return error;
  }
  const auto parsed_time = parse_rfc3339(time);
  if (!parsed_time) return EnvelopeError{"attribute 'time' is not RFC 3339: '" + time + "'"};
  event.time = *parsed_time;
  const auto data = j.find("data");
  if (data == j.end()) return EnvelopeError{"missing 'data'"};
  event.data = std::move(*data);
  if (const auto tp = find_header(headers, header::kTraceParent)) {
    if (auto parsed = TraceParent::parse(*tp)) {
      event.trace = std::move(*parsed);
    }
  }
  return event;
}

} // namespace fte::events
