#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include "fte/mail/mail.hpp"

namespace fte::mail {
namespace {

std::chrono::system_clock::time_point utc(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

OutgoingEmail reply() {
  OutgoingEmail email;
  email.from = {"support@acme.example", "Acme Support"};
  email.to = {{"jose.garcia@gmail.example", ""}};
  email.subject = "Re: Export fails";
  email.body_text = "Hello,\nplease try again.\n";
  email.message_id = "<reply-6f1c2f8e@acme.example>";
  email.in_reply_to = "<CAF3x+abc123=XyZ@mail.gmail.example>";
  email.references = {"<root-1@acme.example>", "<CAF3x+abc123=XyZ@mail.gmail.example>"};
  email.date = utc(1709543133); // Mon, 04 Mar 2024 09:05:33 +0000
  return email;
}

ParsedEmail parse_ok(const std::string& raw) {
  auto parsed = parse_email(raw);
  if (const auto* error = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<ParsedEmail>(std::move(parsed));
}

// The body's exact bytes as an independent decoder (GMime) reads them.
std::string gmime_decoded_body(const std::string& raw) {
  g_mime_init(); // idempotent after the first call
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* message = g_mime_parser_construct_message(parser, nullptr);
  std::string text;
  if (message != nullptr) {
    GMimeObject* body = g_mime_message_get_mime_part(message);
    if (body != nullptr && GMIME_IS_TEXT_PART(body)) {
      char* decoded = g_mime_text_part_get_text(GMIME_TEXT_PART(body));
      text = decoded;
      g_free(decoded);
    }
    g_object_unref(message);
  }
  g_object_unref(parser);
  g_object_unref(stream);
  return text;
}

void expect_wire_format(const std::string& raw) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n') {
      ASSERT_TRUE(i > 0 && raw[i - 1] == '\r') << "bare LF at " << i;
    }
    if (raw[i] == '\r') {
      ASSERT_TRUE(i + 1 < raw.size() && raw[i + 1] == '\n') << "bare CR at " << i;
    }
    ASSERT_TRUE(static_cast<unsigned char>(raw[i]) < 0x80) << "8-bit byte at " << i;
  }
  std::size_t start = 0;
  while (start < raw.size()) {
    const auto end = raw.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 78U) << raw.substr(start, end - start);
    start = end + 2;
  }
}

TEST(ComposeEmail, ExactOutputForAPlainReply) {
  EXPECT_EQ(compose_email(reply()), "From: Acme Support <support@acme.example>\r\n"
                                    "To: jose.garcia@gmail.example\r\n"
                                    "Subject: Re: Export fails\r\n"
                                    "Date: Mon, 04 Mar 2024 09:05:33 +0000\r\n"
                                    "Message-ID: <reply-6f1c2f8e@acme.example>\r\n"
                                    "In-Reply-To: <CAF3x+abc123=XyZ@mail.gmail.example>\r\n"
                                    "References: <root-1@acme.example> <CAF3x+abc123=XyZ@mail.gmail.example>\r\n"
                                    "MIME-Version: 1.0\r\n"
                                    "Content-Type: text/plain; charset=UTF-8\r\n"
                                    "Content-Transfer-Encoding: quoted-printable\r\n"
                                    "\r\n"
                                    "Hello,\r\n"
                                    "please try again.\r\n");
}

TEST(ComposeEmail, IsDeterministic) { EXPECT_EQ(compose_email(reply()), compose_email(reply())); }

TEST(ComposeEmail, RoundTripsThroughTheParser) {
  auto email = reply();
  email.from.name = "Équipe Support — Acme";
  email.to = {{"Jose.Garcia@Gmail.Example", "José García"}, {"ops@customer.example", "Ops, Team \"Night\""}};
  email.subject = "Re: Export échoue — commande nº 1234 — 日本語の件名もあります、とても長い件名のテストです";
  email.body_text = "Bonjour José,\r\n\r\nl'export fonctionne à nouveau. = signe égal, 100% sûr.\r\n"
                    "From here on a line that starts with From.\n.\n"
                    "trailing spaces   \n"
                    "A very long line that goes on and on well past the seventy-six character limit of quoted "
                    "printable, with accents éèà in the middle of it and more words after them to wrap again.\n"
                    "😀 emoji\n";
  const auto raw = compose_email(email);
  expect_wire_format(raw);
  const auto parsed = parse_ok(raw);
  EXPECT_EQ(parsed.from.address, "support@acme.example");
  EXPECT_EQ(parsed.from.name, email.from.name);
  ASSERT_EQ(parsed.to.size(), 2U);
  EXPECT_EQ(parsed.to[0].address, "jose.garcia@gmail.example");
  EXPECT_EQ(parsed.to[0].name, "José García");
  EXPECT_EQ(parsed.to[1].name, "Ops, Team \"Night\"");
  EXPECT_EQ(parsed.subject, email.subject);
  EXPECT_EQ(parsed.message_id, email.message_id);
  EXPECT_EQ(parsed.in_reply_to, email.in_reply_to);
  EXPECT_EQ(parsed.references, email.references);
  EXPECT_EQ(parsed.date, email.date);
  std::string expected_body = email.body_text;
  for (auto at = expected_body.find("\r\n"); at != std::string::npos; at = expected_body.find("\r\n")) {
    expected_body.erase(at, 1);
  }
  std::string expected_wire_body; // what GMime decodes keeps the wire's CRLF
  for (const char c : expected_body) {
    if (c == '\n') expected_wire_body += '\r';
    expected_wire_body += c;
  }
  EXPECT_EQ(gmime_decoded_body(raw), expected_wire_body);
  EXPECT_EQ(parsed.full_text, expected_body.substr(0, expected_body.size() - 1)); // without the final newline
}

TEST(ComposeEmail, NonAsciiSubjectIsEncodedWords) {
  auto email = reply();
  email.subject = "Ça marche";
  const auto raw = compose_email(email);
  EXPECT_NE(raw.find("Subject: =?UTF-8?B?w4dhIG1hcmNoZQ==?=\r\n"), std::string::npos) << raw;
  email.subject = "Ça marche très bien maintenant, merci beaucoup pour votre aide précieuse";
  const auto folded = compose_email(email);
  expect_wire_format(folded);
  EXPECT_NE(folded.find("?=\r\n =?UTF-8?B?"), std::string::npos) << folded;
}

TEST(ComposeEmail, TextThatLooksLikeAnEncodedWordIsEncoded) {
  auto email = reply();
  email.subject = "=?UTF-8?B?Zm9v?= literally";
  EXPECT_EQ(parse_ok(compose_email(email)).subject, email.subject);
}

TEST(ComposeEmail, LongAsciiSubjectsFoldAtSpaces) {
  auto email = reply();
  email.subject = "Re:";
  for (int i = 0; i < 30; ++i)
    email.subject += " word" + std::to_string(i);
  const auto raw = compose_email(email);
  expect_wire_format(raw);
  EXPECT_EQ(parse_ok(raw).subject, email.subject);
  email.subject = std::string(2000, 'x'); // one unfoldable word
  const auto encoded = compose_email(email);
  expect_wire_format(encoded);
  EXPECT_EQ(parse_ok(encoded).subject, email.subject);
}

TEST(ComposeEmail, HeaderInjectionIsImpossible) {
  auto email = reply();
  email.subject = "Hi\r\nBcc: victim@example.com";
  email.from.name = "Acme\nX-Evil: 1";
  const auto raw = compose_email(email);
  EXPECT_EQ(raw.find("\r\nBcc:"), std::string::npos);
  EXPECT_EQ(raw.find("\r\nX-Evil:"), std::string::npos);
  EXPECT_EQ(parse_ok(raw).subject, "Hi Bcc: victim@example.com");
  email = reply();
  email.to = {{"a@example.com\r\nBcc: victim@example.com", ""}};
  EXPECT_THROW((void)compose_email(email), std::invalid_argument);
}

TEST(ComposeEmail, RejectsUnusableAddressesAndIds) {
  const auto throws = [](auto change) {
    auto email = reply();
    change(email);
    EXPECT_THROW((void)compose_email(email), std::invalid_argument);
  };
  throws([](OutgoingEmail& e) { e.from.address = ""; });
  throws([](OutgoingEmail& e) { e.from.address = "no-at-sign"; });
  throws([](OutgoingEmail& e) { e.to.clear(); });
  throws([](OutgoingEmail& e) { e.to = {{"a b@example.com", ""}}; });
  throws([](OutgoingEmail& e) { e.to = {{"a@b@example.com", ""}}; });
  throws([](OutgoingEmail& e) { e.to = {{"<a@example.com>", ""}}; });
  throws([](OutgoingEmail& e) { e.to = {{"jos\xC3\xA9@example.com", ""}}; });
  throws([](OutgoingEmail& e) { e.message_id = ""; });
  throws([](OutgoingEmail& e) { e.message_id = "<has space@acme.example>"; });
}

TEST(ComposeEmail, MessageIdsGetBracketsAndBadThreadingHeadersAreDropped) {
  auto email = reply();
  email.message_id = "bare@acme.example";
  email.in_reply_to = "not a msg id";
  email.references = {"ok@x", "<bad id>", ""};
  const auto raw = compose_email(email);
  EXPECT_NE(raw.find("Message-ID: <bare@acme.example>\r\n"), std::string::npos);
  EXPECT_EQ(raw.find("In-Reply-To:"), std::string::npos);
  EXPECT_NE(raw.find("References: <ok@x>\r\n"), std::string::npos);
}

TEST(ComposeEmail, ManyReferencesFold) {
  auto email = reply();
  email.references.clear();
  for (int i = 0; i < 20; ++i)
    email.references.push_back("<message-" + std::to_string(i) + "@example.com>");
  const auto raw = compose_email(email);
  expect_wire_format(raw);
  EXPECT_EQ(parse_ok(raw).references, email.references);
}

TEST(ComposeEmail, EmptyBody) {
  auto email = reply();
  email.body_text.clear();
  const auto raw = compose_email(email);
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n");
  EXPECT_EQ(parse_ok(raw).full_text, "");
}

TEST(DeterministicMessageId, Format) {
  EXPECT_EQ(deterministic_message_id("6f1c2f8e-3b7a-5d2e-9c41-0e5a7f3b9d10", "support.acme.example"),
            "<reply-6f1c2f8e-3b7a-5d2e-9c41-0e5a7f3b9d10@support.acme.example>");
  EXPECT_EQ(deterministic_message_id("r1", "acme.example"), deterministic_message_id("r1", "acme.example"));
  EXPECT_THROW((void)deterministic_message_id("", "acme.example"), std::invalid_argument);
  EXPECT_THROW((void)deterministic_message_id("r1", ""), std::invalid_argument);
  EXPECT_THROW((void)deterministic_message_id("r 1", "acme.example"), std::invalid_argument);
  EXPECT_THROW((void)deterministic_message_id("r@1", "acme.example"), std::invalid_argument);
  EXPECT_THROW((void)deterministic_message_id("r1", "acme..example"), std::invalid_argument);
  EXPECT_THROW((void)deterministic_message_id("r1", "acme.example>"), std::invalid_argument);
}

} // namespace
} // namespace fte::mail
