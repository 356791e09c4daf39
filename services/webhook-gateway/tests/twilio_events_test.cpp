#include "twilio_events.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"
#include "fte/contracts/validator.hpp"
#include "twilio_vectors.hpp"

namespace fte::gateway {
namespace {

using namespace test_vectors;

TwilioParams params_of(std::string_view body) {
  auto fields = parse_twilio_body(TwilioBodyKind::form, body);
  EXPECT_TRUE(fields) << body;
  return TwilioParams(fields.value_or(FormFields{}));
}

TwilioParams params_of(FormFields fields) { return TwilioParams(std::move(fields)); }

const TwilioRequestInfo kInfo{std::chrono::system_clock::time_point(std::chrono::milliseconds(1'741'944'413'589)),
                              "203.0.113.9", "TwilioProxy/1.1"};

TwilioEvent accepted(const std::variant<TwilioEvent, ClientError>& built) {
  if (const auto* error = std::get_if<ClientError>(&built)) {
    ADD_FAILURE() << "unexpected " << error->code << ": " << error->message;
    return {};
  }
  return std::get<TwilioEvent>(built);
}

ClientError refused(const std::variant<TwilioEvent, ClientError>& built) {
  EXPECT_TRUE(std::holds_alternative<ClientError>(built)) << "expected a client error";
  return std::holds_alternative<ClientError>(built) ? std::get<ClientError>(built) : ClientError{};
}

// One validator for the whole file: building it compiles every schema.
const contracts::Validator& validator() {
  static const contracts::Validator instance;
  return instance;
}

void expect_valid(const events::CloudEvent& event) {
  const auto violation = validator().validate(event);
  EXPECT_FALSE(violation) << *violation << "\n" << events::serialize(event);
}

// Checks what both events share for the vectors' customer and returns
// `data` without `params`, which the caller checks apart.
nlohmann::json checked_envelope(const TwilioEvent& built, std::string_view type, const EventId& id) {
  EXPECT_EQ(built.key, "+15551234567");
  EXPECT_EQ(built.event.subject, "+15551234567");
  EXPECT_EQ(built.event.type, type);
  EXPECT_EQ(built.event.source, "/fte/webhook-gateway");
  EXPECT_EQ(built.event.id, id.str());
  auto data = built.event.data;
  data.erase("params");
  return data;
}

FormFields minimal_message() {
  return {{"MessageSid", "SM00000000000000000000000000000001"},
          {"AccountSid", "AC00000000000000000000000000000001"},
          {"From", "whatsapp:+15551234567"},
          {"To", "whatsapp:+14155238886"},
          {"Body", "hi"}};
}

FormFields with(FormFields fields, const std::string& name, const std::string& value) {
  for (auto& field : fields) {
    if (field.first == name) {
      field.second = value;
      return fields;
    }
  }
  fields.emplace_back(name, value);
  return fields;
}

FormFields without(FormFields fields, const std::string& name) {
  std::erase_if(fields, [&](const FormField& f) { return f.first == name; });
  return fields;
}

TEST(WhatsappMessageEvent, CarriesEverythingTheContractNames) {
  const auto built = accepted(whatsapp_message_event(params_of(kMessageBody), kInfo));
  const auto& event = built.event;
  const auto params = event.data["params"];
  EXPECT_EQ(checked_envelope(built, kWhatsappMessageEventType,
                             event_id_from_provider("twilio", "SM1f0e8ee2e3a44a3d8b0a3c5b1f2e4d6a")),
            nlohmann::json::parse(R"({
      "message_sid": "SM1f0e8ee2e3a44a3d8b0a3c5b1f2e4d6a",
      "account_sid": "AC0123456789abcdef0123456789abcdef",
      "messaging_service_sid": "MG0123456789abcdef0123456789abcdef",
      "from": "+15551234567",
      "to": "whatsapp:+14155238886",
      "wa_id": "15551234567",
      "profile_name": "Zoë Ångström",
      "body": "Hello & welcome = 100% + more",
      "num_media": 2,
      "media": [
        {"url": "https://api.twilio.com/2010-04-01/Accounts/AC01/Messages/SM1f/Media/ME01", "content_type": "image/jpeg"},
        {"url": "https://api.twilio.com/2010-04-01/Accounts/AC01/Messages/SM1f/Media/ME02",
         "content_type": "application/pdf"}],
      "num_segments": 1,
      "received_at": "2025-03-14T09:26:53.589Z",
      "client": {"address": "203.0.113.9", "user_agent": "TwilioProxy/1.1"}})"));
  EXPECT_EQ(params.size(), 20U);
  EXPECT_EQ(params["SmsStatus"], "received");
  expect_valid(event);
}

TEST(WhatsappMessageEvent, TheSameMessageSidIsTheSameEvent) {
  // Twilio's retry may differ in fields it adds; the id follows MessageSid only.
  const auto a = accepted(whatsapp_message_event(params_of(minimal_message()), kInfo));
  const auto b = accepted(whatsapp_message_event(params_of(with(minimal_message(), "Extra", "1")), kInfo));
  EXPECT_EQ(a.event.id, b.event.id);
  const auto c =
      accepted(whatsapp_message_event(params_of(with(minimal_message(), "MessageSid", "SM0000000000000002")), kInfo));
  EXPECT_NE(a.event.id, c.event.id);
}

TEST(WhatsappMessageEvent, MinimalAndOptionalFields) {
  const auto built =
      accepted(whatsapp_message_event(params_of(without(minimal_message(), "Body")), TwilioRequestInfo{}));
  const auto& d = built.event.data;
  EXPECT_EQ(d["body"], "");
  EXPECT_EQ(d["num_media"], 0);
  EXPECT_EQ(d["media"], nlohmann::json::array());
  EXPECT_EQ(d["client"], nlohmann::json::object());
  for (const char* absent : {"messaging_service_sid", "wa_id", "profile_name", "num_segments"}) {
    EXPECT_FALSE(d.contains(absent)) << absent;
  }
  expect_valid(built.event);
  // Empty optional fields are left out rather than sent as "".
  auto fields = with(with(minimal_message(), "ProfileName", ""), "MessagingServiceSid", "");
  const auto empty = accepted(whatsapp_message_event(params_of(fields), kInfo));
  EXPECT_FALSE(empty.event.data.contains("profile_name"));
  expect_valid(empty.event);
}

TEST(WhatsappMessageEvent, NormalisesTheSenderToE164) {
  for (const char* from : {"whatsapp:+15551234567", "WhatsApp:+15551234567", "whatsapp: +15551234567 "}) {
    const auto built = accepted(whatsapp_message_event(params_of(with(minimal_message(), "From", from)), kInfo));
    EXPECT_EQ(built.key, "+15551234567") << from;
  }
  const auto uk =
      accepted(whatsapp_message_event(params_of(with(minimal_message(), "From", "whatsapp:+447700900123")), kInfo));
  EXPECT_EQ(uk.key, "+447700900123");
  for (const char* bad :
       {"whatsapp:15551234567", "whatsapp:+1", "whatsapp:+1555123456789012345", "whatsapp:+1800FLOWERS",
        "whatsapp:+15551234567;ext=2", "whatsapp:", "+15551234567", "messenger:+15551234567"}) {
    const auto e = refused(whatsapp_message_event(params_of(with(minimal_message(), "From", bad)), kInfo));
    EXPECT_EQ(e.code, "invalid_phone_number") << bad;
    EXPECT_EQ(e.field, "From") << bad;
    EXPECT_EQ(e.status, http::Status::bad_request);
  }
}

TEST(WhatsappMessageEvent, NamesTheMissingField) {
  for (const char* name : {"MessageSid", "AccountSid", "From", "To"}) {
    const auto e = refused(whatsapp_message_event(params_of(without(minimal_message(), name)), kInfo));
    EXPECT_EQ(e.code, "missing_field") << name;
    EXPECT_EQ(e.field, name);
  }
  auto media = with(minimal_message(), "NumMedia", "2");
  media = with(with(media, "MediaUrl0", "https://api.twilio.com/m0"), "MediaContentType0", "image/png");
  const auto e = refused(whatsapp_message_event(params_of(media), kInfo));
  EXPECT_EQ(e.code, "missing_field");
  EXPECT_EQ(e.field, "MediaUrl1");
  // A media item without its content type is kept (the URL is what matters).
  media = with(media, "MediaUrl1", "https://api.twilio.com/m1");
  const auto built = accepted(whatsapp_message_event(params_of(media), kInfo));
  EXPECT_EQ(built.event.data["media"][1], nlohmann::json::parse(R"({"url":"https://api.twilio.com/m1"})"));
  expect_valid(built.event);
}

TEST(WhatsappMessageEvent, RefusesCountsThatAreNotCounts) {
  for (const char* bad : {"-1", "x", "101", "1.5", " 1", "99999999999"}) {
    const auto e = refused(whatsapp_message_event(params_of(with(minimal_message(), "NumMedia", bad)), kInfo));
    EXPECT_EQ(e.code, "invalid_form") << bad;
    EXPECT_EQ(e.field, "NumMedia");
  }
  const auto e = refused(whatsapp_message_event(params_of(with(minimal_message(), "NumSegments", "two")), kInfo));
  EXPECT_EQ(e.field, "NumSegments");
  const auto long_sid =
      refused(whatsapp_message_event(params_of(with(minimal_message(), "MessageSid", std::string(257, 'S'))), kInfo));
  EXPECT_EQ(long_sid.code, "invalid_form");
}

TEST(WhatsappMessageEvent, RepeatedParametersAreKeptAsLists) {
  auto fields = minimal_message();
  fields.emplace_back("Tag", "b");
  fields.emplace_back("Tag", "a");
  const auto built = accepted(whatsapp_message_event(params_of(fields), kInfo));
  EXPECT_EQ(built.event.data["params"]["Tag"], nlohmann::json::parse(R"(["b","a"])"));
  expect_valid(built.event);
  // A repeated From: the first one is the sender.
  fields.emplace_back("From", "whatsapp:+447700900123");
  const auto twice = accepted(whatsapp_message_event(params_of(fields), kInfo));
  EXPECT_EQ(twice.key, "+15551234567");
  expect_valid(twice.event);
}

TEST(WhatsappStatusEvent, CarriesEverythingTheContractNames) {
  const auto built = accepted(whatsapp_status_event(params_of(kStatusBody), kInfo));
  const auto& event = built.event;
  const auto params = event.data["params"];
  // No error_code when Twilio sent none, and no client: the contract has none.
  EXPECT_EQ(checked_envelope(built, kWhatsappStatusEventType,
                             event_id_from_provider("twilio-status", "SM9a8b7c6d5e4f30211f0e0d0c0b0a0908:delivered:")),
            nlohmann::json::parse(R"({
      "message_sid": "SM9a8b7c6d5e4f30211f0e0d0c0b0a0908",
      "message_status": "delivered",
      "to": "+15551234567",
      "from": "whatsapp:+14155238886",
      "account_sid": "AC0123456789abcdef0123456789abcdef",
      "received_at": "2025-03-14T09:26:53.589Z"})"));
  EXPECT_EQ(params["ChannelPrefix"], "whatsapp");
  expect_valid(event);
}

TEST(WhatsappStatusEvent, EachStateIsOneEvent) {
  const auto base = *parse_twilio_body(TwilioBodyKind::form, kStatusBody);
  const auto delivered = accepted(whatsapp_status_event(params_of(base), kInfo));
  const auto again = accepted(whatsapp_status_event(params_of(with(base, "SmsStatus", "x")), kInfo));
  EXPECT_EQ(delivered.event.id, again.event.id);
  const auto read = accepted(whatsapp_status_event(params_of(with(base, "MessageStatus", "read")), kInfo));
  EXPECT_NE(read.event.id, delivered.event.id);
  auto failed_fields = with(with(base, "MessageStatus", "undelivered"), "ErrorCode", "63016");
  const auto failed = accepted(whatsapp_status_event(params_of(failed_fields), kInfo));
  EXPECT_EQ(failed.event.id,
            event_id_from_provider("twilio-status", "SM9a8b7c6d5e4f30211f0e0d0c0b0a0908:undelivered:63016").str());
  EXPECT_EQ(failed.event.data["error_code"], "63016");
  expect_valid(failed.event);
  // An empty ErrorCode is no error code.
  const auto empty_code = accepted(whatsapp_status_event(params_of(with(base, "ErrorCode", "")), kInfo));
  EXPECT_EQ(empty_code.event.id, delivered.event.id);
  EXPECT_FALSE(empty_code.event.data.contains("error_code"));
}

TEST(WhatsappStatusEvent, EveryDocumentedStatusPassesTheSchema) {
  const auto base = *parse_twilio_body(TwilioBodyKind::form, kStatusBody);
  for (const char* status : {"queued", "sending", "sent", "delivered", "read", "failed", "undelivered", "accepted",
                             "scheduled", "canceled", "receiving", "received"}) {
    const auto built = accepted(whatsapp_status_event(params_of(with(base, "MessageStatus", status)), kInfo));
    expect_valid(built.event);
  }
  const auto e = refused(whatsapp_status_event(params_of(with(base, "MessageStatus", "exploded")), kInfo));
  EXPECT_EQ(e.code, "invalid_form");
  EXPECT_EQ(e.field, "MessageStatus");
}

TEST(WhatsappStatusEvent, RefusesMissingFieldsAndBadNumbers) {
  const auto base = *parse_twilio_body(TwilioBodyKind::form, kStatusBody);
  for (const char* name : {"MessageSid", "MessageStatus", "AccountSid", "To"}) {
    const auto e = refused(whatsapp_status_event(params_of(without(base, name)), kInfo));
    EXPECT_EQ(e.code, "missing_field") << name;
    EXPECT_EQ(e.field, name);
  }
  // A Messaging Service send reported before Twilio chose the number: no From.
  const auto no_from = accepted(whatsapp_status_event(
      params_of(without(with(base, "MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"), "From")), kInfo));
  EXPECT_FALSE(no_from.event.data.contains("from"));
  expect_valid(no_from.event);
  const auto e = refused(whatsapp_status_event(params_of(with(base, "To", "whatsapp:+12")), kInfo));
  EXPECT_EQ(e.code, "invalid_phone_number");
  EXPECT_EQ(e.field, "To");
  // An SMS status (no whatsapp: prefix) still names the customer's number.
  const auto sms = accepted(whatsapp_status_event(params_of(with(base, "To", "+15551234567")), kInfo));
  EXPECT_EQ(sms.key, "+15551234567");
}

TEST(WhatsappEvents, ProtoDefinesBothTypes) {
  const auto types = validator().known_types();
  for (const auto type : {kWhatsappMessageEventType, kWhatsappStatusEventType}) {
    EXPECT_NE(std::find(types.begin(), types.end(), std::string(type)), types.end()) << type;
  }
}

} // namespace
} // namespace fte::gateway
