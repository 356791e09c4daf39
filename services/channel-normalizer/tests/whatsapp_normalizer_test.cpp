#include "whatsapp_normalizer.hpp"

#include <gtest/gtest.h>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"
#include "normalizer_handler.hpp"
#include "webform_normalizer.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kCustomer = "9a3c5e71-2d4b-5f86-8e0a-7c1b3d5f9e27";
constexpr const char* kTopic = "fte.channels.whatsapp.inbound";

// In the shape of the contract (PLAN.md, "Events on the channel topics").
events::CloudEvent whatsapp_message() {
  auto event =
      events::make_origin_event(event_id_from_provider("twilio", "SM0123456789abcdef0123456789abcdef"),
                                "/fte/webhook-gateway", std::string(kWhatsappMessageType),
                                {{"message_sid", "SM0123456789abcdef0123456789abcdef"},
                                 {"account_sid", "AC0123456789abcdef0123456789abcdef"},
                                 {"messaging_service_sid", "MG0123456789abcdef0123456789abcdef"},
                                 {"from", "+15551234567"},
                                 {"to", "whatsapp:+14155238886"},
                                 {"wa_id", "15551234567"},
                                 {"profile_name", "Ada L."},
                                 {"body", "My order has not arrived"},
                                 {"num_media", 2},
                                 {"media",
                                  {{{"url", "https://api.twilio.com/2010-04-01/Accounts/AC01/Messages/MM01/Media/ME01"},
                                    {"content_type", "image/jpeg"}},
                                   {{"url", "https://api.twilio.com/2010-04-01/Accounts/AC01/Messages/MM01/Media/ME02"},
                                    {"content_type", "application/pdf"}}}},
                                 {"num_segments", "1"},
                                 {"received_at", "2026-11-25T10:00:00.000Z"},
                                 {"client", {{"address", "203.0.113.7"}}},
                                 {"params", {{"Body", "My order has not arrived"}}}});
  event.subject = "+15551234567";
  return event;
}

events::CloudEvent whatsapp_status(const std::string& status) {
  auto event = events::make_origin_event(
      event_id_from_provider("twilio-status", "SMfeedfacefeedfacefeedfacefeedface:" + status + ":"),
      "/fte/webhook-gateway", std::string(kWhatsappStatusType),
      {{"message_sid", "SMfeedfacefeedfacefeedfacefeedface"},
       {"message_status", status},
       {"to", "+15551234567"},
       {"from", "whatsapp:+14155238886"},
       {"account_sid", "AC0123456789abcdef0123456789abcdef"},
       {"received_at", "2026-11-25T10:05:00.000Z"},
       {"params", {{"MessageStatus", status}}}});
  event.subject = "+15551234567";
  return event;
}

TEST(WhatsappNormalizer, BuildsAValidTicketMessage) {
  const auto source = whatsapp_message();
  const auto message = inbound_from_whatsapp(source, kTopic);
  EXPECT_EQ(message.sender.identifier(), (identity::Identifier{identity::IdentifierKind::phone, "+15551234567"}));
  EXPECT_TRUE(message.claims.empty());
  auto copy = message;
  const auto ticket = ticket_message_event(std::move(copy), kCustomer);
  EXPECT_EQ(ticket.data["channel"], "whatsapp");
  EXPECT_EQ(ticket.data["sender"],
            (nlohmann::json{{"kind", "phone"}, {"address", "+15551234567"}, {"display_name", "Ada L."}}));
  EXPECT_FALSE(ticket.data.contains("subject"));
  EXPECT_EQ(ticket.data["body"], "My order has not arrived");
  EXPECT_EQ(ticket.data["received_at"], "2026-11-25T10:00:00.000Z");
  EXPECT_EQ(ticket.data["source_topic"], kTopic);
  ASSERT_EQ(ticket.data["attachments"].size(), 2U);
  EXPECT_EQ(ticket.data["attachments"][1]["content_type"], "application/pdf");
  EXPECT_EQ(ticket.data["channel_metadata"],
            (nlohmann::json{{"provider", "twilio"},
                            {"message_sid", "SM0123456789abcdef0123456789abcdef"},
                            {"to", "whatsapp:+14155238886"},
                            {"messaging_service_sid", "MG0123456789abcdef0123456789abcdef"},
                            {"wa_id", "15551234567"}}));
  EXPECT_EQ(ticket.id, derived_event_id(EventId(source.id), "channel-normalizer", "ticket").str());
  EXPECT_EQ(ticket.correlationid, source.correlationid);
  EXPECT_EQ(ticket.customerid, kCustomer);
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
}

TEST(WhatsappNormalizer, MediaOnlyMessagesAndMinimalEventsAreValid) {
  auto source = whatsapp_message();
  source.data["body"] = "";
  for (const char* optional : {"messaging_service_sid", "wa_id", "profile_name"})
    source.data.erase(optional);
  const auto ticket = ticket_message_event(inbound_from_whatsapp(source, kTopic), kCustomer);
  EXPECT_EQ(ticket.data["body"], "");
  EXPECT_FALSE(ticket.data["sender"].contains("display_name"));
  EXPECT_EQ(ticket.data["channel_metadata"].size(), 3U);
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
}

TEST(WhatsappNormalizer, CutsWhatTheTicketSchemaBounds) {
  auto source = whatsapp_message();
  std::string long_name;
  for (int i = 0; i < 300; ++i)
    long_name += "é";
  source.data["profile_name"] = long_name;
  source.data["media"] = nlohmann::json::array();
  for (int i = 0; i < 120; ++i)
    source.data["media"].push_back(
        {{"url", "https://example.com/m/" + std::to_string(i)}, {"content_type", "image/png"}});
  source.data["media"].push_back({{"url", "https://example.com/no-type"}});
  const auto ticket = ticket_message_event(inbound_from_whatsapp(source, kTopic), kCustomer);
  EXPECT_EQ(ticket.data["sender"]["display_name"].get<std::string>().size(), 400U); // 200 two-byte characters
  EXPECT_EQ(ticket.data["attachments"].size(), TicketLimits::kAttachments);
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
}

TEST(WhatsappNormalizer, BrokenEventsArePoison) {
  for (const char* field : {"from", "message_sid", "to", "received_at", "body"}) {
    auto source = whatsapp_message();
    source.data.erase(field);
    EXPECT_THROW((void)inbound_from_whatsapp(source, kTopic), kafka::PoisonError) << field;
  }
  auto not_e164 = whatsapp_message();
  not_e164.data["from"] = "whatsapp:+15551234567";
  EXPECT_THROW((void)inbound_from_whatsapp(not_e164, kTopic), kafka::PoisonError);
}

TEST(WhatsappStatus, BuildsAValidDeliveryUpdate) {
  const auto source = whatsapp_status("delivered");
  auto update = delivery_update_from_whatsapp(source);
  EXPECT_EQ(update.recipient.identifier(), (identity::Identifier{identity::IdentifierKind::phone, "+15551234567"}));
  const auto event = delivery_update_event(std::move(update), kCustomer);
  EXPECT_EQ(event.type, kDeliveryUpdatedType);
  EXPECT_EQ(event.source, kSource);
  EXPECT_EQ(event.data, (nlohmann::json{{"customer_id", kCustomer},
                                        {"provider", "twilio"},
                                        {"provider_message_id", "SMfeedfacefeedfacefeedfacefeedface"},
                                        {"status", "delivered"},
                                        {"reported_at", "2026-11-25T10:05:00.000Z"},
                                        {"source_event_id", source.id}}));
  EXPECT_EQ(event.customerid, kCustomer);
  EXPECT_EQ(event.subject, kCustomer);
  EXPECT_EQ(event.causationid, source.id);
  EXPECT_EQ(event.id, derived_event_id(EventId(source.id), "channel-normalizer", "delivery").str());
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(event)) << *validator.validate(event);
}

TEST(WhatsappStatus, CarriesTheErrorCode) {
  auto source = whatsapp_status("undelivered");
  source.data["error_code"] = "63016";
  const auto event = delivery_update_event(delivery_update_from_whatsapp(source), kCustomer);
  EXPECT_EQ(event.data["error_code"], "63016");
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(event)) << *validator.validate(event);
  // An empty ErrorCode is no error code.
  source.data["error_code"] = "";
  EXPECT_FALSE(delivery_update_event(delivery_update_from_whatsapp(source), kCustomer).data.contains("error_code"));
}

TEST(WhatsappStatus, BrokenEventsArePoison) {
  for (const char* field : {"to", "message_sid", "message_status", "received_at"}) {
    auto source = whatsapp_status("sent");
    source.data.erase(field);
    EXPECT_THROW((void)delivery_update_from_whatsapp(source), kafka::PoisonError) << field;
  }
}

// The handler's first step routes each type to its channel, in order.
TEST(NormalizerHandler, EachChannelTurnsItsEventsIntoItems) {
  const auto logger = Logger::to_stderr("test", spdlog::level::off);
  const auto message = whatsapp_message();
  const auto status = whatsapp_status("read");
  auto form = events::make_origin_event(EventId(random_uuid()), "/fte/webhook-gateway", std::string(kWebformType),
                                        {{"name", "Ada"},
                                         {"email", "ada@example.com"},
                                         {"subject", "s"},
                                         {"message", "m"},
                                         {"received_at", "2026-11-25T10:00:00.000Z"}});
  kafka::ConsumedRecord whatsapp_record;
  whatsapp_record.topic = kTopic;
  kafka::ConsumedRecord webform_record;
  webform_record.topic = "fte.channels.webform.inbound";
  std::vector<NormalizedItem> items;
  NormalizerHandler::normalize({whatsapp_record, message, 1, logger}, items);
  NormalizerHandler::normalize({whatsapp_record, status, 1, logger}, items);
  NormalizerHandler::normalize({webform_record, form, 1, logger}, items);
  ASSERT_EQ(items.size(), 3U);
  EXPECT_EQ(std::get<InboundMessage>(items[0]).channel, "whatsapp");
  EXPECT_EQ(std::get<DeliveryUpdate>(items[1]).cause, &status);
  EXPECT_EQ(std::get<InboundMessage>(items[2]).channel, "webform");
  EXPECT_EQ(std::get<InboundMessage>(items[2]).source_topic, "fte.channels.webform.inbound");

  const auto other = events::make_origin_event(EventId(random_uuid()), "/x", "fte.something.else.v1", {});
  EXPECT_THROW(NormalizerHandler::normalize({whatsapp_record, other, 1, logger}, items), kafka::PoisonError);
}

} // namespace
} // namespace fte::normalizer
