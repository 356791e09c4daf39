#include "decision_diff.hpp"

#include <sstream>

#include <gtest/gtest.h>

namespace fte::cli {
namespace {

Decision message(const std::string& event_id, const std::string& stored_at = "2026-11-25T10:00:00.000Z") {
  Decision d;
  d.inbound.id = "msg-" + event_id;
  d.inbound.source_event_id = event_id;
  d.inbound.correlation_id = "corr-" + event_id;
  d.inbound.customer_id = "cust-" + event_id;
  d.inbound.channel = "webform";
  d.inbound.status = "received";
  d.inbound.stored_at = stored_at;
  d.ticket = TicketRow{"ticket-" + event_id, "open", "normal", std::nullopt, std::nullopt};
  return d;
}

Decision answered(const std::string& event_id, std::int64_t article, const std::string& slug, double score,
                  const std::string& text, const std::string& stored_at = "2026-11-25T10:00:00.000Z") {
  auto d = message(event_id, stored_at);
  d.ticket->status = "answered";
  ReplyRow reply;
  reply.id = "reply-" + event_id;
  reply.status = "pending";
  reply.body = text;
  reply.kb_article_id = article;
  reply.kb_article = KbArticle{article, slug, "Title of " + slug};
  reply.kb_score = score;
  d.reply = reply;
  d.outcome = Outcome::answered;
  return d;
}

EscalationRow escalation(const std::string& reason, bool by_agent) {
  return EscalationRow{"esc-" + reason,
                       "ticket",
                       reason,
                       "detail of " + reason,
                       "high",
                       "open",
                       "event-" + reason,
                       "2026-11-25T10:00:01.000Z",
                       by_agent};
}

Decision escalated(const std::string& event_id, const std::string& reason,
                   const std::string& stored_at = "2026-11-25T10:00:00.000Z") {
  auto d = message(event_id, stored_at);
  d.ticket->status = "escalated";
  d.escalations.push_back(escalation(reason, true));
  d.outcome = Outcome::escalated;
  return d;
}

Decision pending(const std::string& event_id) {
  Decision d;
  d.inbound.source_event_id = event_id;
  d.inbound.correlation_id = "corr-" + event_id;
  d.inbound.customer_id = "cust-" + event_id;
  d.inbound.channel = "webform";
  d.inbound.stored_at = "2026-11-25T11:00:00.000Z";
  d.outcome = Outcome::pending;
  return d;
}

const std::string kReset = "To reset your password, open Settings > Security and choose Reset password.";

TEST(ChangedFields, NoneForTheSameDecision) {
  EXPECT_TRUE(
      changed_fields(answered("a", 3, "reset-password", 0.61, kReset), answered("a", 3, "reset-password", 0.61, kReset))
          .empty());
  EXPECT_TRUE(changed_fields(escalated("b", "refund"), escalated("b", "refund")).empty());
}

TEST(ChangedFields, ScoreWithinTheToleranceIsTheSame) {
  const auto live = answered("a", 3, "reset-password", 0.61234, kReset);
  EXPECT_TRUE(changed_fields(live, answered("a", 3, "reset-password", 0.61234 + 0.9e-4, kReset)).empty());
  EXPECT_EQ(changed_fields(live, answered("a", 3, "reset-password", 0.61234 + 1.1e-4, kReset)),
            std::vector<DecisionField>{DecisionField::score});
  EXPECT_EQ(changed_fields(live, answered("a", 3, "reset-password", 0.61234 - 1.1e-4, kReset)),
            std::vector<DecisionField>{DecisionField::score});
}

TEST(ChangedFields, AnEditedArticleChangesScoreAndText) {
  EXPECT_EQ(changed_fields(answered("a", 3, "reset-password", 0.61, kReset),
                           answered("a", 3, "reset-password", 0.58, kReset + " Links expire after an hour.")),
            (std::vector<DecisionField>{DecisionField::score, DecisionField::reply_text}));
}

TEST(ChangedFields, AnotherArticle) {
  EXPECT_EQ(
      changed_fields(answered("a", 3, "reset-password", 0.61, kReset), answered("a", 5, "two-factor", 0.61, kReset)),
      std::vector<DecisionField>{DecisionField::article});
}

TEST(ChangedFields, AnsweredBecomingEscalatedChangesEverything) {
  EXPECT_EQ(changed_fields(answered("a", 3, "reset-password", 0.61, kReset), escalated("a", "low_confidence")),
            (std::vector<DecisionField>{DecisionField::outcome, DecisionField::article, DecisionField::score,
                                        DecisionField::reply_text, DecisionField::escalation_reason}));
}

TEST(ChangedFields, AnotherEscalationReasonOnly) {
  EXPECT_EQ(changed_fields(escalated("a", "refund"), escalated("a", "legal")),
            std::vector<DecisionField>{DecisionField::escalation_reason});
}

TEST(ChangedFields, AnEscalationForAnUndeliveredReplyIsNotTheAgentsDecision) {
  // Live sent the reply and it failed to deliver; the sandbox never sends.
  auto live = answered("a", 3, "reset-password", 0.61, kReset);
  live.escalations.push_back(escalation("delivery_failed", false));
  const auto sandbox = answered("a", 3, "reset-password", 0.61, kReset);
  EXPECT_EQ(live.deciding_escalation(), nullptr);
  EXPECT_TRUE(changed_fields(live, sandbox).empty());
}

TEST(ChangedFields, AnEscalationNotRecordedYetHasNoReason) {
  auto sandbox = escalated("a", "refund");
  sandbox.escalations.clear(); // the ticket is escalated, the escalation service has not written its row
  EXPECT_EQ(changed_fields(escalated("a", "refund"), sandbox),
            std::vector<DecisionField>{DecisionField::escalation_reason});
}

TEST(CompareDecisions, AnUnchangedSandboxIsAllSame) {
  const std::vector<Decision> live = {answered("a", 3, "reset-password", 0.61, kReset), escalated("b", "refund")};
  const auto report = compare_decisions(live, live);
  ASSERT_EQ(report.messages.size(), 2U);
  for (const auto& m : report.messages) {
    EXPECT_EQ(m.status, DiffStatus::same) << m.source_event_id;
    EXPECT_TRUE(m.changed.empty());
  }
  EXPECT_EQ(report.summary.messages, 2U);
  EXPECT_EQ(report.summary.same, 2U);
  EXPECT_FALSE(report.summary.any_difference());
  EXPECT_EQ(summary_line(report.summary), "2 messages: 2 same, 0 changed, 0 only in live, 0 only in sandbox");
}

TEST(CompareDecisions, MatchesByEventIdAndCountsChangedFields) {
  std::vector<Decision> live, sandbox;
  for (int i = 0; i < 10; ++i) {
    const auto id = "same-" + std::to_string(i);
    live.push_back(answered(id, 3, "reset-password", 0.61, kReset));
    sandbox.push_back(answered(id, 3, "reset-password", 0.61, kReset));
  }
  live.push_back(answered("text", 3, "reset-password", 0.61, kReset));
  sandbox.push_back(answered("text", 4, "invoices", 0.61, "Invoices are under Billing."));
  live.push_back(answered("outcome", 3, "reset-password", 0.61, kReset));
  sandbox.push_back(escalated("outcome", "low_confidence"));
  // The order of either list does not matter.
  std::reverse(sandbox.begin(), sandbox.end());

  const auto report = compare_decisions(live, sandbox);
  EXPECT_EQ(summary_line(report.summary), "12 messages: 10 same, 2 changed (outcome 1, article 2, score 1, reply text "
                                          "2, escalation reason 1), 0 only in live, 0 only in sandbox");
  EXPECT_TRUE(report.summary.any_difference());
  for (const auto& m : report.messages) {
    if (m.source_event_id == "text") {
      EXPECT_EQ(m.status, DiffStatus::changed);
      EXPECT_EQ(m.changed, (std::vector<DecisionField>{DecisionField::article, DecisionField::reply_text}));
    } else if (m.source_event_id == "outcome") {
      EXPECT_EQ(m.changed.front(), DecisionField::outcome);
    } else {
      EXPECT_EQ(m.status, DiffStatus::same) << m.source_event_id;
    }
  }
}

TEST(CompareDecisions, PendingAndOneSidedMessages) {
  const std::vector<Decision> live = {answered("a", 3, "reset-password", 0.61, kReset),
                                      answered("gone", 3, "reset-password", 0.61, kReset)};
  const std::vector<Decision> sandbox = {pending("a"), answered("new", 3, "reset-password", 0.61, kReset)};
  const auto report = compare_decisions(live, sandbox);
  ASSERT_EQ(report.messages.size(), 3U);
  std::map<std::string, DiffStatus> status;
  for (const auto& m : report.messages)
    status[m.source_event_id] = m.status;
  EXPECT_EQ(status["a"], DiffStatus::pending_in_sandbox);
  EXPECT_EQ(status["gone"], DiffStatus::only_in_live);
  EXPECT_EQ(status["new"], DiffStatus::only_in_sandbox);
  EXPECT_EQ(report.messages.back().source_event_id, "new") << "messages the live run never stored come last";
  EXPECT_TRUE(report.summary.any_difference());
  EXPECT_EQ(summary_line(report.summary), "3 messages: 0 same, 0 changed, 1 pending in the sandbox (its replay did "
                                          "not finish), 1 only in live, 1 only in sandbox");
}

TEST(CompareDecisions, InTheLiveRunsOrder) {
  const std::vector<Decision> live = {answered("late", 3, "x", 0.5, "x", "2026-11-25T10:00:02.000Z"),
                                      answered("early", 3, "x", 0.5, "x", "2026-11-25T10:00:01.000Z")};
  const auto report = compare_decisions(live, live);
  ASSERT_EQ(report.messages.size(), 2U);
  EXPECT_EQ(report.messages[0].source_event_id, "early");
  EXPECT_EQ(report.messages[1].source_event_id, "late");
}

TEST(DiffJson, CarriesBothDecisionsTheChangedFieldsAndTheSummary) {
  const std::vector<Decision> live = {answered("a", 3, "reset-password", 0.61, kReset), escalated("b", "refund")};
  const std::vector<Decision> sandbox = {answered("a", 3, "reset-password", 0.58, kReset + " More."),
                                         escalated("b", "refund")};
  const auto report = compare_decisions(live, sandbox);

  const auto all = to_json(report, false);
  ASSERT_EQ(all["messages"].size(), 2U);
  const auto& a = all["messages"][0];
  EXPECT_EQ(a["source_event_id"], "a");
  EXPECT_EQ(a["correlation_id"], "corr-a");
  EXPECT_EQ(a["status"], "changed");
  EXPECT_EQ(a["changed"], nlohmann::json({"score", "reply_text"}));
  EXPECT_EQ(a["live"]["outcome"], "answered");
  EXPECT_EQ(a["live"]["kb_article"]["slug"], "reset-password");
  EXPECT_NEAR(a["live"]["kb_score"].get<double>(), 0.61, 1e-9);
  EXPECT_EQ(a["sandbox"]["reply"]["text"], kReset + " More.");
  EXPECT_EQ(all["messages"][1]["status"], "same");
  EXPECT_EQ(all["messages"][1]["live"]["escalation"]["reason"], "refund");
  EXPECT_EQ(all["summary"]["messages"], 2);
  EXPECT_EQ(all["summary"]["changed"], 1);
  EXPECT_EQ(all["summary"]["changed_fields"]["reply_text"], 1);
  EXPECT_EQ(all["summary"]["changed_fields"]["outcome"], 0);

  const auto changed_only = to_json(report, true);
  ASSERT_EQ(changed_only["messages"].size(), 1U);
  EXPECT_EQ(changed_only["messages"][0]["source_event_id"], "a");
  EXPECT_EQ(changed_only["summary"], all["summary"]) << "the summary always counts every message";
}

TEST(DiffTable, OneLinePerMessageWithWhatChangedUnderIt) {
  const std::vector<Decision> live = {answered("a", 3, "reset-password", 0.61, kReset),
                                      answered("b", 3, "reset-password", 0.61, kReset)};
  const std::vector<Decision> sandbox = {answered("a", 3, "reset-password", 0.61, kReset),
                                         escalated("b", "low_confidence")};
  std::ostringstream out;
  print_table(out, compare_decisions(live, sandbox), false);
  const auto text = out.str();
  EXPECT_NE(text.find("CORRELATION ID"), std::string::npos) << text;
  EXPECT_NE(text.find("corr-a"), std::string::npos) << text;
  EXPECT_NE(text.find("answered -> answered"), std::string::npos) << text;
  EXPECT_NE(text.find("same"), std::string::npos) << text;
  EXPECT_NE(text.find("answered -> escalated"), std::string::npos) << text;
  EXPECT_NE(text.find("CHANGED"), std::string::npos) << text;
  EXPECT_NE(text.find("reset-password -> (none)"), std::string::npos) << text;
  EXPECT_NE(text.find("    outcome: answered -> escalated\n"), std::string::npos) << text;
  EXPECT_NE(text.find("    escalation reason: (none) -> low_confidence (detail of low_confidence)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("2 messages: 1 same, 1 changed"), std::string::npos) << text;

  std::ostringstream changed_only;
  print_table(changed_only, compare_decisions(live, sandbox), true);
  EXPECT_EQ(changed_only.str().find("corr-a"), std::string::npos) << changed_only.str();
  EXPECT_NE(changed_only.str().find("corr-b"), std::string::npos) << changed_only.str();
}

TEST(DiffTable, AReplyTextIsShownFromWhereItDiffers) {
  const std::string common = "Thank you for writing. Your invoices are under Billing > Invoices; ";
  std::ostringstream out;
  print_table(out,
              compare_decisions({answered("a", 3, "invoices", 0.5, common + "download them as PDF.")},
                                {answered("a", 3, "invoices", 0.5, common + "they are sent monthly.")}),
              false);
  const auto text = out.str();
  EXPECT_NE(text.find("    reply text: differs from character " + std::to_string(common.size() + 1) + ": \"..."),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("download them as PDF.\" -> \""), std::string::npos) << text;
  EXPECT_NE(text.find("they are sent monthly.\""), std::string::npos) << text;
}

TEST(DiffTable, ThePlaceOfADifferenceCountsCharactersNotBytes) {
  // "é" is two bytes, and the texts differ inside the second "é" sequence
  // (U+00E9 against U+00E8 share their first byte).
  std::ostringstream out;
  print_table(out,
              compare_decisions({answered("a", 3, "x", 0.5, "caf\u00e9 cr\u00e9me")},
                                {answered("a", 3, "x", 0.5, "caf\u00e9 cr\u00e8me")}),
              false);
  EXPECT_NE(
      out.str().find("reply text: differs from character 8: \"caf\u00e9 cr\u00e9me\" -> \"caf\u00e9 cr\u00e8me\""),
      std::string::npos)
      << out.str();
}

TEST(DiffTable, APendingMessageSaysTheSandboxDidNotDecide) {
  auto report = compare_decisions({answered("a", 3, "reset-password", 0.61, kReset)}, {pending("a")});
  std::ostringstream out;
  print_table(out, report, false);
  EXPECT_NE(out.str().find("answered -> pending"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("PENDING"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("its replay did not finish"), std::string::npos) << out.str();

  report.messages[0].sandbox_note = "in the sandbox's DLQ (poison): boom";
  std::ostringstream noted;
  print_table(noted, report, false);
  EXPECT_NE(noted.str().find("the sandbox has not decided this message: in the sandbox's DLQ (poison): boom"),
            std::string::npos)
      << noted.str();
}

TEST(DecisionJson, NamesTheOutcomeAndTheDecidingEscalation) {
  auto d = escalated("a", "refund");
  d.escalations.insert(d.escalations.begin(), escalation("delivery_failed", false));
  const auto j = to_json(d);
  EXPECT_EQ(j["outcome"], "escalated");
  EXPECT_EQ(j["escalation"]["reason"], "refund");
  EXPECT_EQ(j["escalations"].size(), 2U);
  EXPECT_TRUE(j["reply"].is_null());
  EXPECT_TRUE(j["kb_article"].is_null());
  EXPECT_EQ(j["ticket"]["status"], "escalated");
}

} // namespace
} // namespace fte::cli
