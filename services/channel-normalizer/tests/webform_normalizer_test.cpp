#include "webform_normalizer.hpp"

#include <gtest/gtest.h>

#include "customer_directory.hpp"
#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {
namespace {

constexpr const char* kCustomer = "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60";

events::CloudEvent submission() {
  return events::make_origin_event(event_id_from_provider("webform", "ada@example.com:k1"), "/fte/webhook-gateway",
                                   std::string(kWebformType),
                                   {{"name", "Ada"},
                                    {"email", "ada@example.com"},
                                    {"subject", "Password"},
                                    {"message", "How do I reset my password?"},
                                    {"priority", "high"},
                                    {"idempotency_key", "k1"},
                                    {"received_at", "2026-11-25T10:00:00.000Z"}});
}

TEST(WebformNormalizer, BuildsAValidTicketMessage) {
  const auto source = submission();
  auto ticket = ticket_message_event(inbound_from_webform(source, "fte.channels.webform.inbound"), kCustomer);
  EXPECT_EQ(ticket.type, kTicketMessageType);
  EXPECT_EQ(ticket.data["channel"], "webform");
  EXPECT_EQ(ticket.data["sender"]["kind"], "email");
  EXPECT_EQ(ticket.data["sender"]["address"], "ada@example.com");
  EXPECT_EQ(ticket.data["sender"]["display_name"], "Ada");
  EXPECT_EQ(ticket.data["body"], "How do I reset my password?");
  EXPECT_EQ(ticket.data["source_event_id"], source.id);
  EXPECT_EQ(ticket.data["source_topic"], "fte.channels.webform.inbound");
  EXPECT_EQ(ticket.data["priority"], "high");
  EXPECT_EQ(ticket.data["channel_metadata"], (nlohmann::json{{"provider", "webform"}, {"idempotency_key", "k1"}}));
  EXPECT_EQ(ticket.causationid, source.id);
  EXPECT_EQ(ticket.customerid, kCustomer);
  EXPECT_EQ(ticket.subject, kCustomer);
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
}

TEST(WebformNormalizer, TheTicketIdIsDerivedFromTheSubmissionAsBefore) {
  // Ids derived before the channels were restructured stay the same, so a
  // replay across the upgrade deduplicates downstream.
  const auto source = submission();
  const auto ticket = ticket_message_event(inbound_from_webform(source, "t"), kCustomer);
  EXPECT_EQ(ticket.id, derived_event_id(EventId(source.id), "channel-normalizer", "ticket").str());
}

TEST(WebformNormalizer, AClaimedPhoneIsKeptAsAClaimNotAnIdentifier) {
  auto source = submission();
  source.data["phone"] = "+15551234567";
  const auto message = inbound_from_webform(source, "fte.channels.webform.inbound");
  // The sender is still only the address the form came from.
  EXPECT_EQ(message.sender.identifier(), (identity::Identifier{identity::IdentifierKind::email, "ada@example.com"}));
  ASSERT_EQ(message.claims.size(), 1U);
  EXPECT_EQ(message.claims[0], (identity::Identifier{identity::IdentifierKind::phone, "+15551234567"}));
  auto copy = message;
  const auto ticket = ticket_message_event(std::move(copy), kCustomer);
  EXPECT_EQ(ticket.data["channel_metadata"]["claimed_phone"], "+15551234567");
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
  EXPECT_FALSE(validator.validate(source)) << *validator.validate(source);
}

TEST(WebformNormalizer, MissingFieldsArePoison) {
  auto broken = submission();
  broken.data.erase("email");
  EXPECT_THROW((void)webform_sender(broken), kafka::PoisonError);
  auto no_subject = submission();
  no_subject.data.erase("subject");
  EXPECT_THROW((void)inbound_from_webform(no_subject, "t"), kafka::PoisonError);
  auto bad_phone = submission();
  bad_phone.data["phone"] = "555 123";
  EXPECT_THROW((void)inbound_from_webform(bad_phone, "t"), kafka::PoisonError);
}

TEST(CustomerDirectory, NewCustomerIdsAreStableAndChangeWithEachRelease) {
  const identity::Identifier phone{identity::IdentifierKind::phone, "+15551234567"};
  // Generation 0 is the id customers were always given.
  EXPECT_EQ(CustomerDirectory::new_customer_id(phone, 0),
            name_based_uuid(kFteNamespace, "customer:phone:+15551234567"));
  EXPECT_EQ(CustomerDirectory::new_customer_id(phone, 2), CustomerDirectory::new_customer_id(phone, 2));
  EXPECT_NE(CustomerDirectory::new_customer_id(phone, 0), CustomerDirectory::new_customer_id(phone, 1));
  EXPECT_NE(CustomerDirectory::new_customer_id(phone, 1), CustomerDirectory::new_customer_id(phone, 2));
  EXPECT_NE(CustomerDirectory::new_customer_id(phone, 0),
            CustomerDirectory::new_customer_id({identity::IdentifierKind::email, "+15551234567"}, 0));
}

} // namespace
} // namespace fte::normalizer
