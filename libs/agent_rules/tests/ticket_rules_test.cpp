#include "fte/agent_rules/ticket_rules.hpp"

#include <gtest/gtest.h>

namespace fte::agent {
namespace {

TEST(TicketContinuation, ChatContinuesTheOpenTicketAndAFormIsANewCase) {
  TicketContinuation tickets(std::map<std::string, std::string>{{"conv-1", "ticket-1"}});
  EXPECT_EQ(tickets.continues("whatsapp", "conv-1"), "ticket-1");
  EXPECT_EQ(tickets.continues("email", "conv-1"), "ticket-1");
  EXPECT_EQ(tickets.continues("webform", "conv-1"), "");
  EXPECT_EQ(tickets.continues("whatsapp", "conv-2"), "");
}

TEST(TicketContinuation, AnEscalationClosesTheWayAndAnAnswerKeepsItOpen) {
  TicketContinuation tickets;
  // A new conversation's first message opens ticket-a, answered: the next continues it.
  tickets.decided("conv", "ticket-a", /*escalated=*/false);
  EXPECT_EQ(tickets.continues("whatsapp", "conv"), "ticket-a");
  // Escalated: the next message starts another.
  tickets.decided("conv", "ticket-a", /*escalated=*/true);
  EXPECT_EQ(tickets.continues("whatsapp", "conv"), "");
  tickets.decided("conv", "ticket-b", /*escalated=*/false);
  EXPECT_EQ(tickets.continues("whatsapp", "conv"), "ticket-b");
}

} // namespace
} // namespace fte::agent
