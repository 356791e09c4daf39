#include "webform_normalizer.hpp"

#include <gtest/gtest.h>

#include "fte/contracts/validator.hpp"
#include "fte/kafka/consumer_runner.hpp"

namespace fte::normalizer {
namespace {

events::CloudEvent submission() {
  return events::make_origin_event(event_id_from_provider("webform", "ada@example.com:k1"), "/fte/webhook-gateway",
                                   std::string(kWebformType),
                                   {{"name", "Ada"},
                                    {"email", "ada@example.com"},
                                    {"subject", "Password"},
                                    {"message", "How do I reset my password?"},
                                    {"priority", "high"},
                                    {"received_at", "2026-11-25T10:00:00.000Z"}});
}

TEST(WebformNormalizer, BuildsAValidTicketMessage) {
  const auto source = submission();
  const std::string customer = "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60";
  auto ticket = events::derive_event(source, "channel-normalizer", "ticket", std::string(kSource),
                                     std::string(kTicketMessageType),
                                     ticket_message_from_webform(source, customer, "fte.channels.webform.inbound"));
  ticket.customerid = customer;
  EXPECT_EQ(ticket.data["sender"]["address"], "ada@example.com");
  EXPECT_EQ(ticket.data["body"], "How do I reset my password?");
  EXPECT_EQ(ticket.data["source_event_id"], source.id);
  EXPECT_EQ(ticket.data["priority"], "high");
  EXPECT_EQ(ticket.causationid, source.id);
  const contracts::Validator validator;
  EXPECT_FALSE(validator.validate(ticket)) << *validator.validate(ticket);
}

TEST(WebformNormalizer, MissingFieldsArePoison) {
  auto broken = submission();
  broken.data.erase("email");
  EXPECT_THROW((void)webform_sender(broken), kafka::PoisonError);
}

} // namespace
} // namespace fte::normalizer
