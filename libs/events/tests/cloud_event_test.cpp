#include "fte/events/cloud_event.hpp"

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"

namespace fte::events {
namespace {

CloudEvent sample() {
  auto event =
      make_origin_event(event_id_from_provider("webform", "key-1"), "/fte/webhook-gateway/webform",
                        "fte.webform.submission.received.v1", {{"email", "ada@example.com"}, {"message", "Hello ✓"}});
  event.subject = "ada@example.com";
  return event;
}

TEST(CloudEvent, RoundTripsThroughTheWireFormat) {
  auto event = sample();
  event.customerid = "7b0c4a52-1f5e-4d8e-9a3b-2c1d0e9f8a7b";
  event.causationid = "c-0";
  const auto parsed = parse_event(serialize(event), kafka_headers(event));
  ASSERT_TRUE(std::holds_alternative<CloudEvent>(parsed)) << std::get<EnvelopeError>(parsed).reason;
  auto expected = event;
  // The wire keeps milliseconds.
  expected.time = std::chrono::time_point_cast<std::chrono::milliseconds>(event.time);
  EXPECT_EQ(std::get<CloudEvent>(parsed), expected);
}

TEST(CloudEvent, HasTheContractsAttributesAndHeaders) {
  const auto event = sample();
  const auto j = to_json(event);
  EXPECT_EQ(j["specversion"], "1.0");
  EXPECT_EQ(j["id"], event.id);
  EXPECT_EQ(j["datacontenttype"], "application/json");
  EXPECT_EQ(j["dataschema"], "urn:fte:schema:fte.webform.submission.received.v1");
  EXPECT_EQ(j["correlationid"], event.id);
  EXPECT_FALSE(j.contains("customerid"));
  const auto time = j["time"].get<std::string>();
  EXPECT_EQ(time.back(), 'Z');

  const auto headers = kafka_headers(event);
  EXPECT_EQ(find_header(headers, "content-type"), "application/cloudevents+json; charset=UTF-8");
  EXPECT_EQ(find_header(headers, "correlation_id"), event.id);
  EXPECT_EQ(find_header(headers, "ce_type"), "fte.webform.submission.received.v1");
  EXPECT_TRUE(TraceParent::parse(*find_header(headers, "traceparent")).has_value());
}

TEST(CloudEvent, DerivedEventsAreDeterministicAndCarryTheChain) {
  auto cause = sample();
  cause.customerid = "cust-1";
  const auto a = derive_event(cause, "channel-normalizer", "ticket", "/fte/channel-normalizer",
                              "fte.ticket.message.received.v1", {{"x", 1}});
  const auto b = derive_event(cause, "channel-normalizer", "ticket", "/fte/channel-normalizer",
                              "fte.ticket.message.received.v1", {{"x", 1}});
  EXPECT_EQ(a.id, b.id);
  EXPECT_NE(a.id, cause.id);
  EXPECT_EQ(a.causationid, cause.id);
  EXPECT_EQ(a.correlationid, cause.correlationid);
  EXPECT_EQ(a.customerid, "cust-1");
  EXPECT_EQ(a.trace.trace_id, cause.trace.trace_id);
  EXPECT_NE(a.trace.span_id, cause.trace.span_id);
}

TEST(CloudEvent, SameProviderIdGivesSameEventId) { EXPECT_EQ(sample().id, sample().id); }

TEST(CloudEvent, RejectsBrokenEnvelopesWithAReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"specversion":"0.3","id":"a","source":"s","type":"t","time":"2025-01-01T00:00:00Z","correlationid":"c","data":{}})",
       "specversion"},
      {R"({"specversion":"1.0","source":"s","type":"t","time":"2025-01-01T00:00:00Z","correlationid":"c","data":{}})",
       "'id'"},
      {R"({"specversion":"1.0","id":7,"source":"s","type":"t","time":"2025-01-01T00:00:00Z","correlationid":"c","data":{}})",
       "'id' must be a string"},
      {R"({"specversion":"1.0","id":"a","source":"s","type":"t","time":"yesterday","correlationid":"c","data":{}})",
       "RFC 3339"},
      {R"({"specversion":"1.0","id":"a","source":"s","type":"t","time":"2025-01-01T00:00:00Z","correlationid":"c"})",
       "'data'"},
  };
  for (const auto& [value, reason] : cases) {
    const auto parsed = parse_event(value);
    ASSERT_TRUE(std::holds_alternative<EnvelopeError>(parsed)) << value;
    EXPECT_NE(std::get<EnvelopeError>(parsed).reason.find(reason), std::string::npos)
        << std::get<EnvelopeError>(parsed).reason;
  }
}

} // namespace
} // namespace fte::events

namespace fte::events {
namespace {

TEST(CloudEvent, SerializeWritesExactlyWhatToJsonDumps) {
  auto origin = make_origin_event(EventId("e-1"), "/fte/test", "fte.test.thing.v1",
                                  {{"text", "quote \" backslash \\ newline \n é"}, {"n", 1.25}, {"list", {1, 2}}});
  auto derived = derive_event(origin, "svc", "out", "/fte/svc", "fte.test.other.v1", {{"k", "v"}});
  derived.customerid = "c-1";
  derived.subject = "c-1";
  for (const auto& event : {origin, derived}) {
    EXPECT_EQ(serialize(event), to_json(event).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

} // namespace
} // namespace fte::events
