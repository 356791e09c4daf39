#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "fte/mail/mail.hpp"
#include "text.hpp"

namespace fte::mail {
namespace {

TEST(HtmlToText, BlocksBreaksAndParagraphs) {
  EXPECT_EQ(html_to_text("<div>one</div><div>two</div>"), "one\ntwo");
  EXPECT_EQ(html_to_text("<p>one</p><p>two</p>"), "one\n\ntwo");
  EXPECT_EQ(html_to_text("a<br>b<br><br>c"), "a\nb\n\nc");
  EXPECT_EQ(html_to_text("<div>a<br></div><div>b</div>"), "a\nb");
  EXPECT_EQ(html_to_text("<h1>Title</h1>text"), "Title\n\ntext");
  EXPECT_EQ(html_to_text("<p>a</p><br><br><br><br><p>b</p>"), "a\n\nb");
}

TEST(HtmlToText, WhitespaceCollapsesExceptInPre) {
  EXPECT_EQ(html_to_text("  lots   of\n\n   space\t here  "), "lots of space here");
  EXPECT_EQ(html_to_text("a&nbsp;&nbsp;b"), "a b");
  EXPECT_EQ(html_to_text("<pre>  x = 1\n  y = 2</pre>after"), "  x = 1\n  y = 2\nafter");
}

TEST(HtmlToText, EntitiesAreDecoded) {
  EXPECT_EQ(html_to_text("caf&eacute; &amp; cr&#232;me &lt;3 &#x1F600; &euro;"), "café & crème <3 😀 €");
}

TEST(HtmlToText, ScriptStyleHeadAndHiddenContentAreSkipped) {
  EXPECT_EQ(html_to_text("<html><head><title>T</title><style>p{color:red}</style></head>"
                         "<body><script>var x = '<p>no</p>';</script>shown<noscript>no</noscript>"
                         "<span style=\"display: none\">preheader</span><div hidden>secret</div></body></html>"),
            "shown");
  EXPECT_EQ(html_to_text("a<!-- a comment -->b"), "ab");
}

TEST(HtmlToText, ListsAreMarked) {
  EXPECT_EQ(html_to_text("<ul><li>one</li><li>two</li></ul>"), "- one\n- two");
  EXPECT_EQ(html_to_text("<ol><li>one<li>two</ol>"), "1. one\n2. two");
  EXPECT_EQ(html_to_text("<ul><li>a<ul><li>b</li></ul></li></ul>"), "- a\n  - b");
}

TEST(HtmlToText, LinksKeepTheirTextAndShowDistinctTargets) {
  EXPECT_EQ(html_to_text("see <a href=\"https://example.com/x\">the page</a>."),
            "see the page <https://example.com/x>.");
  EXPECT_EQ(html_to_text("<a href=\"https://example.com/\">https://example.com</a>"), "https://example.com");
  EXPECT_EQ(html_to_text("<a href=\"mailto:a@example.com\">a@example.com</a>"), "a@example.com");
  EXPECT_EQ(html_to_text("<a href=\"javascript:alert(1)\">click</a>"), "click");
  EXPECT_EQ(html_to_text("<a href=\"https://example.com/x\">one</a> <a href=\"https://example.com/x\">two</a>"),
            "one <https://example.com/x> two");
  // An unclosed link is re-created in each later paragraph; its target is shown once.
  EXPECT_EQ(html_to_text("<p><a href=\"https://example.com/x\"></p><p>a</p><p>b</p>"),
            "a <https://example.com/x>\n\nb");
  EXPECT_EQ(html_to_text("<a href=\"https://example.com/\"><img src=\"logo.png\"></a>text"), "text");
}

TEST(HtmlToText, BlockquotesBecomeQuotedLines) {
  EXPECT_EQ(html_to_text("answer<blockquote>question<br>line 2<blockquote>older</blockquote></blockquote>"),
            "answer\n> question\n> line 2\n> > older");
}

TEST(HtmlToText, DeepQuotesAreDrawnEightDeep) {
  std::string html;
  for (int i = 0; i < 1000; ++i)
    html += "<blockquote>";
  for (int i = 0; i < 1000; ++i)
    html += "x<br>";
  const auto text = html_to_text(html);
  EXPECT_EQ(text.substr(0, 18), "> > > > > > > > x\n");
  EXPECT_LT(text.size(), 20U * 1000U);
}

TEST(HtmlToText, TablesKeepCellsApart) {
  EXPECT_EQ(html_to_text("<table><tr><td>Order</td><td>1234</td></tr><tr><td>Total</td><td>49 €</td></tr></table>"),
            "Order 1234\nTotal 49 €");
}

TEST(HtmlToText, BrokenMarkupStillRenders) {
  EXPECT_EQ(html_to_text("<p>unclosed <b>bold <i>both</p>next"), "unclosed bold both\n\nnext");
  EXPECT_EQ(html_to_text("</div></p>text<"), "text<");
  EXPECT_EQ(html_to_text(""), "");
  EXPECT_EQ(html_to_text("plain text"), "plain text");
}

TEST(HtmlToText, InvalidUtf8AndNulAreCleaned) {
  const std::string html("a\xFF"
                         "b\0c",
                         5);
  const auto text = html_to_text(html);
  EXPECT_TRUE(detail::is_valid_utf8(text));
  EXPECT_EQ(text.find('\0'), std::string::npos);
}

// Inputs that make an unguarded gumbo 0.10.1 take seconds or gigabytes
// (see html_to_text.cpp) come back quickly with the text of their prefix.
TEST(HtmlToText, PathologicalNestingIsBounded) {
  const auto started = std::chrono::steady_clock::now();
  std::string deep = "start";
  for (int i = 0; i < 200'000; ++i)
    deep += "<div>";
  deep += "end";
  const auto deep_text = html_to_text(deep);
  EXPECT_EQ(deep_text.substr(0, 5), "start");

  // Under the formatting-element cap, so gumbo runs out of its budget
  // (3.6 million re-created <b>s) and shorter prefixes are parsed until one fits.
  std::string formatting = "<p>Please help</p><div>";
  for (int i = 0; i < 900; ++i)
    formatting += "<b id=" + std::to_string(i) + ">";
  formatting += "</div>";
  for (int i = 0; i < 4000; ++i)
    formatting += "<div>x</div>";
  const auto formatting_text = html_to_text(formatting);
  EXPECT_TRUE(detail::is_valid_utf8(formatting_text));
  EXPECT_EQ(formatting_text.substr(0, 11), "Please help");

  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(HtmlToText, LargeOrdinaryHtmlIsRenderedWhole) {
  std::string html;
  for (int i = 0; i < 3000; ++i)
    html += "<tr><td><p>row " + std::to_string(i) + "</p></td></tr>";
  html = "<table>" + html + "</table><p>the end</p>";
  const auto text = html_to_text(html);
  EXPECT_NE(text.find("row 2999"), std::string::npos);
  EXPECT_NE(text.find("the end"), std::string::npos);
}

} // namespace
} // namespace fte::mail
