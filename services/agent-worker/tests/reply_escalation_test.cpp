#include "reply_escalation.hpp"

#include <gtest/gtest.h>

#include "fte/common/ids.hpp"
#include "fte/contracts/validator.hpp"

namespace fte::agent {
namespace {

UndeliveredReply reply() {
  UndeliveredReply r;
  r.reply_id = "0b5d2f7e-3c1a-5e9b-8f2d-4a6c9e1b3d57";
  r.customer_id = "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60";
  r.conversation_id = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
  r.ticket_id = "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f";
  r.channel = "whatsapp";
  r.source_event_id = "6f1c8a52-7d0e-5b3a-9c41-2e8f0d6b7a19";
  r.inbound_body = "How do I reset my password?";
  r.reply_body = "Settings > Security > Reset.";
  r.ticket_priority = "normal";
  return r;
}

TEST(ReplyEscalation, MatchesTheEscalationSchemaForBothReasons) {
  const contracts::Validator validator;
  for (const auto reason : {kDeliveryUnknown, kDeliveryFailed}) {
    const auto data = undelivered_reply_escalation(reply(), reason, "Twilio error 20500 (HTTP 500)",
                                                   std::chrono::system_clock::now());
    const auto violation = validator.validate_data("fte.escalation.requested.v1", data);
    EXPECT_FALSE(violation) << reason << ": " << violation.value_or("");
    EXPECT_EQ(data["reason"], reason);
    EXPECT_EQ(data["priority"], "high") << "the customer may be waiting for an answer that never came";
    EXPECT_EQ(data["message_id"], name_based_uuid(kFteNamespace, "message:inbound:" + reply().source_event_id));
    EXPECT_NE(data["reason_detail"].get<std::string>().find(reply().reply_id), std::string::npos);
  }
}

TEST(ReplyEscalation, KeepsAnUrgentTicketUrgentAndCutsLongTexts) {
  auto r = reply();
  r.ticket_priority = "urgent";
  r.inbound_body.clear();
  r.reply_body = std::string(5000, 'x');
  const auto data =
      undelivered_reply_escalation(r, kDeliveryFailed, std::string(3000, 'y'), std::chrono::system_clock::now());
  EXPECT_EQ(data["priority"], "urgent");
  EXPECT_LE(data["summary"].get<std::string>().size(), 2000U);
  EXPECT_LE(data["reason_detail"].get<std::string>().size(), 1000U);
  EXPECT_FALSE(contracts::Validator().validate_data("fte.escalation.requested.v1", data));
}

} // namespace
} // namespace fte::agent
