#include <chrono>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "fte/mail/mail.hpp"
#include "text.hpp"

namespace fte::mail {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(FTE_MAIL_TESTDATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ParsedEmail parse_ok(std::string_view raw) {
  auto parsed = parse_email(raw);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << "ParseError: " << error->message;
    return {};
  }
  return std::get<ParsedEmail>(std::move(parsed));
}

std::chrono::system_clock::time_point utc(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

// Every string the parser returns must be safe to put in JSON and PostgreSQL.
void expect_clean(const ParsedEmail& email) {
  for (const std::string* text : {&email.text, &email.full_text, &email.subject, &email.from.name, &email.from.address,
                                  &email.message_id, &email.in_reply_to}) {
    EXPECT_TRUE(detail::is_valid_utf8(*text));
    EXPECT_EQ(text->find('\0'), std::string::npos);
    EXPECT_EQ(text->find('\r'), std::string::npos);
  }
  EXPECT_LE(email.text.size(), kMaxBodyBytes);
  EXPECT_LE(email.full_text.size(), kMaxBodyBytes);
}

TEST(ParseEmail, GmailMultipartAlternativePrefersPlainTextAndTrimsTheQuote) {
  const auto email = parse_ok(read_testdata("gmail_alternative.eml"));
  expect_clean(email);
  EXPECT_EQ(email.from.address, "jose.garcia@gmail.example");
  EXPECT_EQ(email.from.name, "José García");
  ASSERT_EQ(email.to.size(), 1U);
  EXPECT_EQ(email.to[0].address, "support@acme.example");
  EXPECT_EQ(email.to[0].name, "Acme Support");
  ASSERT_EQ(email.cc.size(), 2U);
  EXPECT_EQ(email.cc[0].name, "Ops, Team");
  EXPECT_EQ(email.cc[0].address, "ops@customer.example");
  EXPECT_EQ(email.cc[1].address, "billing@customer.example");
  EXPECT_TRUE(email.reply_to.empty());
  EXPECT_EQ(email.subject, "Re: Export fails with error E42 — order nº 1234");
  EXPECT_EQ(email.message_id, "<CAF3x+abc123=XyZ@mail.gmail.example>");
  EXPECT_EQ(email.in_reply_to, "<reply-6f1c2f8e-0000-4000-8000-000000000001@acme.example>");
  ASSERT_EQ(email.references.size(), 2U);
  EXPECT_EQ(email.references[0], "<root-1@acme.example>");
  EXPECT_EQ(email.references[1], "<reply-6f1c2f8e-0000-4000-8000-000000000001@acme.example>");
  ASSERT_TRUE(email.date.has_value());
  EXPECT_EQ(*email.date, utc(1709543133)); // 2024-03-04T09:05:33Z
  EXPECT_EQ(
      email.text,
      "Hi,\n\nthe export still fails with error E42 — I tried twice today.\nCan you have a look? Order nº 1234.\n\n"
      "Thanks,\nJosé");
  EXPECT_NE(email.full_text.find("> please try the export again."), std::string::npos);
  EXPECT_NE(email.full_text.find("wrote:"), std::string::npos);
  EXPECT_TRUE(email.attachments.empty());
  EXPECT_FALSE(email.auto_submitted);
}

TEST(ParseEmail, OutlookHtmlOnlyBodyIsRenderedAndTheReplyHeaderBlockCut) {
  const auto email = parse_ok(read_testdata("outlook_html_only.eml"));
  expect_clean(email);
  EXPECT_EQ(email.from.name, "Anna Müller");
  EXPECT_EQ(email.to[0].address, "support@acme.example");
  EXPECT_EQ(email.to[0].name, "support@acme.example");
  EXPECT_EQ(email.text, "Hello,\n\nWe were charged twice for invoice INV-2024-0042 – see the “Billing” page:\n\n"
                        "- first charge: 49,00 €\n- second charge: 49,00 €\n\n"
                        "Details are on our portal <https://billing.customer.example/inv/42>.\n\n"
                        "Kind regards\nAnna Müller");
  EXPECT_NE(email.full_text.find("From: Acme Support <support@acme.example>"), std::string::npos);
  EXPECT_NE(email.full_text.find("Dear Anna"), std::string::npos);
  EXPECT_EQ(email.full_text.find("alert"), std::string::npos) << "script content leaked";
  EXPECT_EQ(email.full_text.find("MsoNormal"), std::string::npos) << "style content leaked";
  EXPECT_EQ(email.full_text.find("ignored title"), std::string::npos);
}

TEST(ParseEmail, Iso88591QuotedPrintableBodyAndSubject) {
  const auto email = parse_ok(read_testdata("latin1_qp.eml"));
  expect_clean(email);
  EXPECT_EQ(email.from.name, "Françoise Lefèvre");
  EXPECT_EQ(email.subject, "Commande non reçue");
  EXPECT_EQ(email.text,
            "Bonjour,\n\nma commande n'est pas arrivée. Où en est la livraison ? Merci d'avance.\n\nFrançoise");
  EXPECT_EQ(email.message_id, "<20240306140000.12345@example.fr>");
  EXPECT_TRUE(email.in_reply_to.empty());
  EXPECT_TRUE(email.references.empty());
}

TEST(ParseEmail, Base64Utf8BodyAndEncodedWordSubject) {
  const auto email = parse_ok(read_testdata("base64_utf8.eml"));
  expect_clean(email);
  EXPECT_EQ(email.subject, "アプリが起動しません");
  EXPECT_EQ(email.text, "こんにちは。アプリが起動しません。\nThe app crashes on start 😭");
  EXPECT_EQ(*email.date, utc(1709769600)); // 2024-03-07T00:00:00Z
}

TEST(ParseEmail, AttachmentsAreListedNotInlined) {
  const auto email = parse_ok(read_testdata("attachments.eml"));
  expect_clean(email);
  EXPECT_EQ(email.text, "Please see the attached report and screenshot.");
  EXPECT_EQ(email.full_text.find("must not appear"), std::string::npos);
  ASSERT_EQ(email.attachments.size(), 4U);
  EXPECT_EQ(email.attachments[0].filename, "report.pdf");
  EXPECT_EQ(email.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(email.attachments[0].size, 9U + 1024U + 7U);
  EXPECT_EQ(email.attachments[1].filename, "écran 1.png"); // RFC 2231 filename*
  EXPECT_EQ(email.attachments[1].content_type, "image/png");
  EXPECT_EQ(email.attachments[1].size, 108U);
  EXPECT_EQ(email.attachments[2].filename, "notes.txt");
  EXPECT_EQ(email.attachments[2].content_type, "text/plain");
  EXPECT_EQ(email.attachments[3].content_type, "message/rfc822");
  EXPECT_EQ(email.attachments[3].filename, "Original failure notice");
  EXPECT_GT(email.attachments[3].size, 0U);
}

TEST(ParseEmail, ReplyWithSignatureAndTrailingQuote) {
  const auto email = parse_ok(read_testdata("reply_signature.eml"));
  expect_clean(email);
  EXPECT_EQ(email.from.address, "carol@example.org");
  EXPECT_TRUE(email.from.name.empty());
  EXPECT_EQ(email.text, "Thanks, the reset link worked.\n\nOne more question: can I change my username too?");
  EXPECT_NE(email.full_text.find("Carol Jones"), std::string::npos);
  ASSERT_EQ(email.references.size(), 2U);
  EXPECT_EQ(email.references[1], "<reply-aaaa@acme.example>");
}

TEST(ParseEmail, AutoReplyIsMarked) {
  EXPECT_TRUE(parse_ok(read_testdata("auto_reply.eml")).auto_submitted);
  EXPECT_FALSE(parse_ok(read_testdata("latin1_qp.eml")).auto_submitted);
}

TEST(ParseEmail, AutoSubmittedHeadersAndBounces) {
  const std::string body = "\n\nhello\n";
  const auto marked = [&](const std::string& headers) {
    return parse_ok("From: x@example.com\nTo: support@acme.example\n" + headers + body).auto_submitted;
  };
  EXPECT_FALSE(marked("Auto-Submitted: no"));
  EXPECT_FALSE(marked("Auto-Submitted: No (a person)"));
  EXPECT_TRUE(marked("Auto-Submitted: auto-generated"));
  EXPECT_TRUE(marked("Auto-Submitted: auto-replied; owner-email=\"x@example.com\""));
  EXPECT_TRUE(marked("Precedence: bulk"));
  EXPECT_TRUE(marked("Precedence: JUNK"));
  EXPECT_TRUE(marked("Precedence: list"));
  EXPECT_TRUE(marked("Precedence: auto_reply"));
  EXPECT_FALSE(marked("Precedence: first-class"));
  EXPECT_TRUE(marked("X-Autoreply: yes"));
  EXPECT_TRUE(marked("X-Autorespond: vacation"));
  EXPECT_TRUE(marked("Return-Path: <>"));
  EXPECT_FALSE(marked("Return-Path: <x@example.com>"));
  EXPECT_TRUE(parse_ok("From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered\n\nsorry\n").auto_submitted);
  EXPECT_TRUE(parse_ok("From: postmaster@example.com\n\nsorry\n").auto_submitted);
  EXPECT_TRUE(parse_ok("From: x@example.com\nContent-Type: multipart/report; report-type=delivery-status; "
                       "boundary=b\n\n--b\nContent-Type: text/plain\n\nfailed\n--b--\n")
                  .auto_submitted);
}

TEST(ParseEmail, FormatFlowedIsUnwrappedAndMobileFooterDropped) {
  const auto email = parse_ok(read_testdata("apple_flowed.eml"));
  EXPECT_EQ(email.text, "This is a long line that Apple Mail wrapped at seventy-two characters so that it fits.\n"
                        "Second paragraph.");
  EXPECT_NE(email.full_text.find("Sent from my iPhone"), std::string::npos);
}

TEST(ParseEmail, CrlfAndLfLineEndingsParseTheSame) {
  const std::string lf = "From: A <a@example.com>\nSubject: Hi\n\nline one\nline two\n";
  std::string crlf;
  for (const char c : lf) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  const auto a = parse_ok(lf);
  const auto b = parse_ok(crlf);
  EXPECT_EQ(a.text, "line one\nline two");
  EXPECT_EQ(b.text, a.text);
  EXPECT_EQ(b.subject, a.subject);
}

TEST(ParseEmail, MissingOrUnparseableHeadersAreEmpty) {
  const auto email = parse_ok("Subject: no sender\nDate: not a date\nMessage-ID: \n\nbody\n");
  EXPECT_TRUE(email.from.address.empty());
  EXPECT_TRUE(email.to.empty());
  EXPECT_FALSE(email.date.has_value());
  EXPECT_TRUE(email.message_id.empty());
  EXPECT_EQ(email.text, "body");
}

TEST(ParseEmail, DatesBeyondTheClocksRangeAreMissing) {
  EXPECT_FALSE(parse_ok("From: a@example.com\nDate: Fri, 9 Mar 6024 10:00:00 +0000\n\nb\n").date.has_value());
  const auto email = parse_ok("From: a@example.com\nDate: Fri, 9 Mar 2124 10:00:00 +0000\n\nb\n");
  ASSERT_TRUE(email.date.has_value());
  EXPECT_EQ(*email.date, utc(4865652000));
}

TEST(ParseEmail, GroupsAndUndisclosedRecipients) {
  const auto email =
      parse_ok("From: a@example.com\nTo: undisclosed-recipients:;\nCc: Team: x@example.com, Y <y@example.com>;\n\nb\n");
  EXPECT_TRUE(email.to.empty());
  ASSERT_EQ(email.cc.size(), 2U);
  EXPECT_EQ(email.cc[1].address, "y@example.com");
  EXPECT_EQ(email.cc[1].name, "Y");
}

TEST(ParseEmail, ReplyToIsRead) {
  const auto email = parse_ok("From: noreply@shop.example\nReply-To: Customer <Customer@Example.com>\n\nb\n");
  ASSERT_EQ(email.reply_to.size(), 1U);
  EXPECT_EQ(email.reply_to[0].address, "customer@example.com");
}

TEST(ParseEmail, Raw8BitHeadersAndUndeclaredCharsets) {
  // UTF-8 bytes in a header without encoded-words, and a body whose charset
  // is unknown to iconv: both come out as UTF-8.
  const auto email = parse_ok("From: \xC3\x89lodie <e@example.com>\nSubject: Caf\xC3\xA9\n"
                              "Content-Type: text/plain; charset=x-no-such-charset\n\nd\xC3\xA9j\xC3\xA0 vu\n");
  EXPECT_EQ(email.from.name, "Élodie");
  EXPECT_EQ(email.subject, "Café");
  EXPECT_EQ(email.text, "déjà vu");
  // Latin-1 bytes labelled us-ascii (a common lie) are not dropped.
  const auto latin = parse_ok("From: e@example.com\nContent-Type: text/plain; charset=us-ascii\n\nna\xEFve\n");
  EXPECT_EQ(latin.text, "naïve");
  // Windows-1252 punctuation labelled ISO-8859-1.
  const auto cp1252 = parse_ok("From: e@example.com\nContent-Type: text/plain; charset=iso-8859-1\n\n\x93quoted\x94\n");
  EXPECT_EQ(cp1252.text, "“quoted”");
}

TEST(ParseEmail, NulAndControlCharactersNeverReachTheOutput) {
  static constexpr char kRaw[] = "From: a@example.com\nSubject: a\x01z\n\nbefore\0after\x1b[31m\n";
  const std::string raw(kRaw, sizeof kRaw - 1);
  const auto email = parse_ok(raw);
  expect_clean(email);
  EXPECT_EQ(email.subject, "az");
  EXPECT_EQ(email.text, "beforeafter[31m");
}

TEST(ParseEmail, LongBodiesAreCappedOnACharacterBoundary) {
  std::string body;
  while (body.size() < 3 * kMaxBodyBytes)
    body += "é日本 ";
  const auto email = parse_ok("From: a@example.com\nContent-Type: text/plain; charset=utf-8\n\n" + body);
  expect_clean(email);
  EXPECT_GT(email.text.size(), kMaxBodyBytes - 4);
  EXPECT_GT(email.full_text.size(), kMaxBodyBytes - 4);
}

TEST(ParseEmail, HtmlOnlyFallbackWhenPlainAlternativeIsEmpty) {
  const auto email = parse_ok("From: a@example.com\nContent-Type: multipart/alternative; boundary=x\n\n"
                              "--x\nContent-Type: text/plain\n\n \n--x\nContent-Type: text/html\n\n"
                              "<p>Only <i>HTML</i> here</p>\n--x--\n");
  EXPECT_EQ(email.text, "Only HTML here");
}

TEST(ParseEmail, AppleMailSplitBodyAroundAnInlineImage) {
  const auto email = parse_ok("From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n"
                              "--x\nContent-Type: text/plain\n\nBefore the photo.\n"
                              "--x\nContent-Type: image/jpeg; name=photo.jpg\nContent-Disposition: inline; "
                              "filename=photo.jpg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n"
                              "--x\nContent-Type: text/plain\n\nAfter the photo.\n--x--\n");
  EXPECT_EQ(email.text, "Before the photo.\n\nAfter the photo.");
  ASSERT_EQ(email.attachments.size(), 1U);
  EXPECT_EQ(email.attachments[0].filename, "photo.jpg");
  EXPECT_EQ(email.attachments[0].size, 6U);
}

TEST(ParseEmail, MalformedInputIsAnErrorNotACrash) {
  EXPECT_TRUE(std::holds_alternative<ParseError>(parse_email("")));
  EXPECT_TRUE(std::holds_alternative<ParseError>(parse_email("   \r\n\r\n")));
  EXPECT_TRUE(std::holds_alternative<ParseError>(parse_email("just some words\nand no headers at all\n")));
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::string junk(static_cast<std::size_t>(random() % 4096), '\0');
    for (auto& c : junk)
      c = static_cast<char>(random());
    if (round % 2 == 0) junk = "From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\n" + junk;
    const auto parsed = parse_email(junk);
    if (const auto* email = std::get_if<ParsedEmail>(&parsed)) expect_clean(*email);
  }
}

TEST(ParseEmail, BrokenMimeStructuresParseBestEffort) {
  // No closing boundary, a missing boundary parameter, a bad base64 body.
  const auto unterminated = parse_ok(
      "From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n");
  EXPECT_EQ(unterminated.text, "hi");
  const auto no_boundary = parse_ok("From: a@example.com\nContent-Type: multipart/mixed\n\nhello\n");
  expect_clean(no_boundary);
  const auto bad_base64 = parse_ok(
      "From: a@example.com\nContent-Transfer-Encoding: base64\nContent-Type: text/plain\n\n!!!*** not base64\n");
  expect_clean(bad_base64);
}

TEST(ParseEmail, DeepNestingIsBounded) {
  std::string raw = "From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n";
  for (int i = 1; i < 2000; ++i) {
    raw += "--b" + std::to_string(i - 1) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n";
  }
  raw += "--b1999\nContent-Type: text/plain\n\ndeep\n";
  const auto email = parse_ok(raw);
  expect_clean(email);
  EXPECT_TRUE(email.text.empty()); // below the walk's depth limit
}

} // namespace
} // namespace fte::mail
