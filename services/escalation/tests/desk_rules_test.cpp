// The desk's decisions without a database (desk_rules.hpp).
#include "desk_rules.hpp"

#include <gtest/gtest.h>

namespace fte::escalation::desk {
namespace {

using namespace std::chrono_literals;

const access::Principal kAlice{"alice", access::Role::agent};
const access::Principal kBob{"bob", access::Role::agent};
const access::Principal kSam{"sam", access::Role::supervisor};

State state_of(const Outcome& outcome) {
  EXPECT_TRUE(std::holds_alternative<State>(outcome)) << std::get<Refusal>(outcome).code;
  return std::holds_alternative<State>(outcome) ? std::get<State>(outcome) : State{};
}

Refusal refusal_of(const Outcome& outcome) {
  EXPECT_TRUE(std::holds_alternative<Refusal>(outcome));
  return std::holds_alternative<Refusal>(outcome) ? std::get<Refusal>(outcome) : Refusal{};
}

TEST(DeskRules, StatusNamesRoundTrip) {
  for (const auto s : {Status::open, Status::assigned, Status::waiting, Status::resolved})
    EXPECT_EQ(parse_status(to_string(s)), s);
  EXPECT_FALSE(parse_status("closed"));
}

TEST(DeskRules, AClaimWinsOnceAndTheLoserIsToldWho) {
  const State open{Status::open, {}};
  const auto won = state_of(claim(open, kAlice));
  EXPECT_EQ(won, (State{Status::assigned, "alice"}));
  const auto lost = refusal_of(claim(won, kBob));
  EXPECT_EQ(lost.status, 409);
  EXPECT_EQ(lost.code, "already_claimed");
  EXPECT_EQ(lost.owner, "alice");
  // Claiming one's own again changes nothing (a double-click).
  EXPECT_EQ(state_of(claim(won, kAlice)), won);
  EXPECT_EQ(refusal_of(claim(State{Status::resolved, "alice"}, kBob)).code, "conversation_resolved");
}

TEST(DeskRules, OnlyTheOwnerOrASupervisorReleasesOrResolves) {
  const State mine{Status::assigned, "alice"};
  EXPECT_EQ(refusal_of(release(mine, kBob)).status, 403);
  EXPECT_EQ(state_of(release(mine, kAlice)), (State{Status::open, {}}));
  EXPECT_EQ(state_of(release(mine, kSam)), (State{Status::open, {}}));
  EXPECT_EQ(refusal_of(release(State{Status::open, {}}, kAlice)).code, "not_claimed");
  EXPECT_EQ(refusal_of(resolve(mine, kBob)).code, "not_owner");
  EXPECT_EQ(state_of(resolve(mine, kAlice)), (State{Status::resolved, "alice"}));
  // A supervisor resolving an unowned conversation is recorded as its owner.
  EXPECT_EQ(state_of(resolve(State{Status::open, {}}, kSam)), (State{Status::resolved, "sam"}));
  EXPECT_EQ(refusal_of(resolve(State{Status::open, {}}, kAlice)).code, "not_claimed");
  EXPECT_EQ(refusal_of(resolve(State{Status::resolved, "alice"}, kAlice)).code, "conversation_resolved");
}

TEST(DeskRules, OnlySupervisorsAssignAndWaitingStaysWaiting) {
  EXPECT_EQ(refusal_of(assign(State{Status::open, {}}, kAlice, "bob")).code, "supervisor_only");
  EXPECT_EQ(state_of(assign(State{Status::open, {}}, kSam, "bob")), (State{Status::assigned, "bob"}));
  EXPECT_EQ(state_of(assign(State{Status::waiting, "alice"}, kSam, "bob")), (State{Status::waiting, "bob"}));
  EXPECT_EQ(refusal_of(assign(State{Status::resolved, "alice"}, kSam, "bob")).code, "conversation_resolved");
}

TEST(DeskRules, RepliesNeedTheOwnerAndReopenOnlyWhenAsked) {
  EXPECT_EQ(refusal_of(reply(State{Status::open, {}}, kAlice, false)).code, "not_claimed");
  const auto other = refusal_of(reply(State{Status::assigned, "bob"}, kAlice, false));
  EXPECT_EQ(other.code, "not_owner");
  EXPECT_EQ(other.owner, "bob");
  EXPECT_EQ(state_of(reply(State{Status::assigned, "alice"}, kAlice, false)), (State{Status::waiting, "alice"}));
  EXPECT_EQ(refusal_of(reply(State{Status::resolved, "alice"}, kAlice, false)).code, "conversation_resolved");
  EXPECT_EQ(state_of(reply(State{Status::resolved, "bob"}, kAlice, true)), (State{Status::waiting, "alice"}));
  EXPECT_EQ(refusal_of(reopen(State{Status::open, {}}, kAlice)).code, "not_resolved");
  EXPECT_EQ(state_of(reopen(State{Status::resolved, "bob"}, kAlice)), (State{Status::assigned, "alice"}));
}

TEST(DeskRules, TheCustomersMessageBringsTheConversationBackToPeople) {
  EXPECT_EQ(after_customer_message(State{Status::waiting, "alice"}), (State{Status::assigned, "alice"}));
  EXPECT_EQ(after_customer_message(State{Status::resolved, "alice"}), (State{Status::assigned, "alice"}));
  EXPECT_EQ(after_customer_message(State{Status::open, {}}), (State{Status::open, {}}));
  EXPECT_EQ(after_customer_message(State{Status::assigned, "bob"}), (State{Status::assigned, "bob"}));
}

TEST(DeskRules, AReplyIsStaleWhenTheCustomerWroteOrSomeoneElseReplied) {
  const std::vector<Change> since = {
      {5, "noted", "bob", "t1"}, {6, "claimed", "alice", "t2"}, {7, "replied", "alice", "t3"}};
  EXPECT_TRUE(stale_reply_changes(since, "alice").empty());
  const auto stale = stale_reply_changes(since, "bob");
  ASSERT_EQ(stale.size(), 1U);
  EXPECT_EQ(stale[0].version, 7);
  const std::vector<Change> wrote = {{8, "customer_wrote", "escalation", "t4"}};
  EXPECT_EQ(stale_reply_changes(wrote, "alice").size(), 1U);
}

TEST(DeskRules, WhatsAppsWindowIsTwentyFourHoursFromTheCustomersLastMessage) {
  const auto last = std::chrono::system_clock::time_point(1'700'000'000s);
  EXPECT_TRUE(whatsapp_window(last, last + 23h + 59min).open);
  const auto closed = whatsapp_window(last, last + 24h);
  EXPECT_FALSE(closed.open);
  EXPECT_EQ(closed.closes_at, last + 24h);
  EXPECT_FALSE(whatsapp_window(std::nullopt, last).open);
  EXPECT_FALSE(whatsapp_window(std::nullopt, last).closes_at);
}

TEST(DeskRules, TemplatesAreParsedCheckedAndRendered) {
  const auto templates = parse_templates(
      R"([{"name":"follow_up","content_sid":"HX0123456789abcdef0123456789abcdef","text":"Hi {{1}}, about {{2}}: {{1}}"}])");
  ASSERT_EQ(templates.size(), 1U);
  EXPECT_EQ(template_placeholders(templates[0].text), (std::vector<int>{1, 2}));
  const auto rendered = render(templates[0], {{"1", "Ada"}, {"2", "order 7"}});
  ASSERT_TRUE(std::holds_alternative<RenderedTemplate>(rendered));
  EXPECT_EQ(std::get<RenderedTemplate>(rendered).text, "Hi Ada, about order 7: Ada");
  EXPECT_EQ(std::get<RenderedTemplate>(rendered).content_variables, (nlohmann::json{{"1", "Ada"}, {"2", "order 7"}}));
  const auto missing = render(templates[0], {{"1", "Ada"}});
  ASSERT_TRUE(std::holds_alternative<Refusal>(missing));
  EXPECT_EQ(std::get<Refusal>(missing).code, "invalid_field");
  EXPECT_EQ(std::get<Refusal>(render(templates[0], {{"1", "Ada"}, {"2", "  "}})).code, "invalid_field");
  EXPECT_TRUE(parse_templates("").empty());
  EXPECT_THROW((void)parse_templates("{}"), std::invalid_argument);
  EXPECT_THROW((void)parse_templates(R"([{"name":"x","content_sid":"SM1","text":"t"}])"), std::invalid_argument);
  EXPECT_THROW(
      (void)parse_templates(
          R"([{"name":"x","content_sid":"HX0123456789abcdef0123456789abcdef","text":"t"},{"name":"x","content_sid":"HX0123456789abcdef0123456789abcdef","text":"t"}])"),
      std::invalid_argument);
}

TEST(DeskRules, RoundRobinPicksTheLeastLoadedThenTheLongestIdle) {
  const auto t0 = std::chrono::system_clock::time_point(1'700'000'000s);
  std::vector<Candidate> people = {{"alice", 2, t0}, {"bob", 1, t0 + 5min}, {"carol", 1, t0}};
  EXPECT_EQ(next_assignee(people, t0 + 10min), "carol");
  EXPECT_EQ(next_assignee(people, t0 + 11min), "bob");
  EXPECT_EQ(next_assignee(people, t0 + 12min), "alice"); // all at 2 now; alice idle longest
  std::vector<Candidate> nobody;
  EXPECT_FALSE(next_assignee(nobody, t0));
}

TEST(DeskRules, ReplyRequestsAreCheckedFieldByField) {
  const auto ok = parse_reply_request(R"({"version": 3, "body": "Hello", "article": "refunds"})");
  ASSERT_TRUE(std::holds_alternative<ReplyRequest>(ok));
  EXPECT_EQ(std::get<ReplyRequest>(ok).version, 3);
  EXPECT_EQ(std::get<ReplyRequest>(ok).article, "refunds");
  const auto code_of = [](std::string_view body) {
    const auto r = parse_reply_request(body);
    return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r).code : std::string("accepted");
  };
  const auto field_of = [](std::string_view body) {
    const auto r = parse_reply_request(body);
    return std::holds_alternative<Refusal>(r)
               ? std::get<Refusal>(r).message.substr(0, std::get<Refusal>(r).message.find(':'))
               : std::string();
  };
  EXPECT_EQ(code_of("not json"), "invalid_json");
  EXPECT_EQ(code_of("[1]"), "invalid_json");
  EXPECT_EQ(field_of(R"({"body": "hi"})"), "version");
  EXPECT_EQ(field_of(R"({"version": 0, "body": "hi"})"), "version");
  EXPECT_EQ(field_of(R"({"version": 1})"), "body");
  EXPECT_EQ(field_of(R"({"version": 1, "body": "   "})"), "body");
  EXPECT_EQ(field_of(R"({"version": 1, "body": "hi", "template": "t"})"), "template");
  EXPECT_EQ(field_of(R"({"version": 1, "body": "hi", "channel": "fax"})"), "channel");
  EXPECT_EQ(field_of(R"({"version": 1, "template": "t", "channel": "email"})"), "template");
  EXPECT_EQ(field_of(R"({"version": 1, "body": "hi", "reopen": "yes"})"), "reopen");
  EXPECT_EQ(field_of(R"({"version": 1, "body": "hi", "cc": "x"})"), "cc");
  EXPECT_EQ(field_of(R"({"version": 1, "body": 5})"), "body");
  EXPECT_EQ(field_of(R"({"version": 1, "body": ")" + std::string(kEmailBodyLimit + 1, 'x') + "\"}"), "body");
  EXPECT_EQ(code_of(R"({"version": 1, "template": "follow_up", "variables": {"1": "Ada"}})"), "accepted");
}

TEST(DeskRules, SlaTargetsAreCheckedBeforeAnythingIsStored) {
  const auto ok = parse_sla_targets(
      R"({"targets": [{"priority": "urgent", "first_response_minutes": 5, "resolution_minutes": 60}]})");
  ASSERT_TRUE(std::holds_alternative<std::vector<SlaTarget>>(ok));
  EXPECT_EQ(std::get<std::vector<SlaTarget>>(ok)[0].first_response_minutes, 5);
  const auto code_of = [](std::string_view body) {
    const auto r = parse_sla_targets(body);
    return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r).message : std::string("accepted");
  };
  EXPECT_NE(code_of(R"({"targets": []})"), "accepted");
  EXPECT_NE(code_of(R"({"targets": [{"priority": "p1", "first_response_minutes": 5, "resolution_minutes": 6}]})"),
            "accepted");
  EXPECT_NE(code_of(R"({"targets": [{"priority": "low", "first_response_minutes": 0, "resolution_minutes": 6}]})"),
            "accepted");
  EXPECT_NE(code_of(R"({"targets": [{"priority": "low", "first_response_minutes": 10, "resolution_minutes": 6}]})"),
            "accepted");
  EXPECT_NE(
      code_of(
          R"({"targets": [{"priority": "low", "first_response_minutes": 1, "resolution_minutes": 6}, {"priority": "low", "first_response_minutes": 1, "resolution_minutes": 6}]})"),
      "accepted");
}

} // namespace
} // namespace fte::escalation::desk
