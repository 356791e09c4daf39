#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "reply_text.hpp"

namespace fte::mail::detail {
namespace {

TEST(TrimReply, GmailAttributionAndQuote) {
  EXPECT_EQ(
      trim_reply("Sounds good.\n\nOn Mon, Mar 4, 2024 at 9:12 AM Acme <s@acme.example> wrote:\n\n> old\n> text\n"),
      "Sounds good.");
}

TEST(TrimReply, AttributionWrappedOverTwoLines) {
  EXPECT_EQ(trim_reply("Yes.\n\nOn Mon, Mar 4, 2024 at 9:12 AM A Very Long Support Team Name <\n"
                       "support@acme.example> wrote:\n\n> old\n"),
            "Yes.");
}

TEST(TrimReply, AppleAndLocalisedAttributions) {
  EXPECT_EQ(trim_reply("Ok\n\nOn 4 Mar 2024, at 09:12, Acme <s@acme.example> wrote:\n\n> old\n"), "Ok");
  EXPECT_EQ(trim_reply("Merci\n\nLe lun. 4 mars 2024 à 09:12, Acme <s@acme.example> a écrit :\n> old\n"), "Merci");
  EXPECT_EQ(trim_reply("Danke\n\nAm 04.03.2024 um 09:12 schrieb Acme <s@acme.example>:\n> old\n"), "Danke");
  EXPECT_EQ(trim_reply("Gracias\n\nEl lun, 4 mar 2024 a las 9:12, Acme (<s@acme.example>) escribió:\n> old\n"),
            "Gracias");
  EXPECT_EQ(trim_reply("Thanks\n\n---- On Mon, 04 Mar 2024 09:12:00 +0000 Acme <s@acme.example> wrote ----\n\nold\n"),
            "Thanks");
}

TEST(TrimReply, AnOrdinarySentenceIsNotAnAttribution) {
  const std::string text = "On Monday my colleague wrote:\nthe app is broken for us\nplease help";
  EXPECT_EQ(trim_reply(text), text);
}

TEST(TrimReply, OutlookOriginalMessageSeparator) {
  EXPECT_EQ(trim_reply("Please cancel it.\n\n-----Original Message-----\nFrom: Acme\nSent: Monday\n\nold"),
            "Please cancel it.");
  EXPECT_EQ(trim_reply("Bitte.\n\n----- Ursprüngliche Nachricht -----\nVon: Acme\n\nalt"), "Bitte.");
}

TEST(TrimReply, OutlookHeaderBlock) {
  EXPECT_EQ(trim_reply("Here you go.\n\n________________________________\nFrom: Acme Support <s@acme.example>\n"
                       "Sent: Friday, March 1, 2024 4:02 PM\nTo: Anna <a@example.com>\nSubject: RE: Invoice\n\nold"),
            "Here you go.");
  EXPECT_EQ(trim_reply("Hier.\n\nVon: Acme Support <s@acme.example>\nGesendet: Freitag, 1. März 2024 16:02\n"
                       "An: Anna <a@example.com>\nBetreff: AW: Rechnung\n\nalt"),
            "Hier.");
  // A "From:" line alone (a customer quoting a header) is kept.
  const std::string alone = "The mail said\nFrom: Acme\nand nothing else.";
  EXPECT_EQ(trim_reply(alone), alone);
}

TEST(TrimReply, TrailingQuoteOnlyInlineAnswersStay) {
  EXPECT_EQ(trim_reply("Thanks!\n\nJohn wrote:\n> a\n> b\n\n"), "Thanks!");
  const std::string inline_answers = "> Which version?\n2.3\n> Which OS?\nLinux";
  EXPECT_EQ(trim_reply(inline_answers), inline_answers);
  EXPECT_EQ(trim_reply("> Which version?\n2.3\n\n> old signature\n> more"), "> Which version?\n2.3");
}

TEST(TrimReply, Signatures) {
  EXPECT_EQ(trim_reply("Body text\n\n-- \nJane\nACME Corp"), "Body text");
  EXPECT_EQ(trim_reply("Body text\n--\nJane"), "Body text");
  // A bare "--" far from the end is a separator in the text, not a signature.
  std::string long_tail = "Part one\n--\n";
  for (int i = 0; i < 30; ++i)
    long_tail += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(trim_reply(long_tail), long_tail.substr(0, long_tail.size() - 1));
}

TEST(TrimReply, MobileFooter) {
  EXPECT_EQ(trim_reply("On my way.\n\nSent from my iPhone"), "On my way.");
  EXPECT_EQ(trim_reply("Ok\n\nGet Outlook for Android"), "Ok");
}

TEST(TrimReply, NothingLeftMeansTheWholeText) {
  EXPECT_EQ(trim_reply("> only a quote\n> nothing else\n"), "> only a quote\n> nothing else");
  EXPECT_EQ(trim_reply("-- \nonly a signature"), "--\nonly a signature"); // trailing spaces go
  EXPECT_EQ(trim_reply(""), "");
  EXPECT_EQ(trim_reply("\n\n  \n"), "");
}

TEST(TrimReply, StaysLinearOnPathologicalText) {
  const auto started = std::chrono::steady_clock::now();
  std::string dashes;
  for (int i = 0; i < 200'000; ++i)
    dashes += "--\n";
  EXPECT_FALSE(trim_reply(dashes).empty());
  std::string headers;
  for (int i = 0; i < 50'000; ++i)
    headers += "From: x\n\n\n\nOn 1 wrote\n\n";
  EXPECT_FALSE(trim_reply(headers).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(Unflow, JoinsSoftBreaksOfTheSameDepth) {
  EXPECT_EQ(unflow("one \ntwo \nthree\nfour", false), "one two three\nfour");
  EXPECT_EQ(unflow("one \ntwo", true), "onetwo");
  EXPECT_EQ(unflow("> quoted \n> more\nnew", false), "> quoted more\nnew");
  EXPECT_EQ(unflow("para \n> quote", false), "para \n> quote");
  EXPECT_EQ(unflow(" From stuffed", false), "From stuffed");
  EXPECT_EQ(unflow("text\n-- \nsig", false), "text\n-- \nsig");
}

} // namespace
} // namespace fte::mail::detail
