#include "webform_page.hpp"

#include <gtest/gtest.h>

namespace fte::gateway {
namespace {

namespace bhttp = boost::beast::http;

// What Chromium and Firefox send when a form is submitted without script.
constexpr std::string_view kChromiumNavigation =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7";
constexpr std::string_view kFirefoxNavigation =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";

TEST(AcceptQuality, TheMostSpecificRangeDecides) {
  EXPECT_DOUBLE_EQ(accept_quality(kChromiumNavigation, "text/html"), 1.0);
  EXPECT_DOUBLE_EQ(accept_quality(kChromiumNavigation, "application/json"), 0.8);
  EXPECT_DOUBLE_EQ(accept_quality("text/*;q=0.5, text/html;q=0.2", "text/html"), 0.2);
  EXPECT_DOUBLE_EQ(accept_quality("text/*;q=0.5", "text/html"), 0.5);
  EXPECT_DOUBLE_EQ(accept_quality("application/json", "text/html"), 0.0);
  EXPECT_DOUBLE_EQ(accept_quality("", "text/html"), 1.0);
  EXPECT_DOUBLE_EQ(accept_quality("TEXT/HTML ; Q=0.3", "text/html"), 0.3);
}

TEST(AcceptQuality, MalformedQualityIgnoresTheRange) {
  EXPECT_DOUBLE_EQ(accept_quality("text/html;q=abc, */*;q=0.1", "text/html"), 0.1);
  EXPECT_DOUBLE_EQ(accept_quality("text/html;q=2", "text/html"), 0.0);
  EXPECT_DOUBLE_EQ(accept_quality("garbage", "text/html"), 0.0);
}

TEST(WantsAnswerPage, OnlyABrowsersOwnFormPost) {
  EXPECT_TRUE(wants_answer_page(kForm, kChromiumNavigation));
  EXPECT_TRUE(wants_answer_page("application/x-www-form-urlencoded; charset=UTF-8", kFirefoxNavigation));
  // The page's script, curl, API clients: JSON as before.
  EXPECT_FALSE(wants_answer_page(kForm, "application/json"));
  EXPECT_FALSE(wants_answer_page(kForm, "*/*"));
  EXPECT_FALSE(wants_answer_page(kForm, ""));
  EXPECT_FALSE(wants_answer_page("application/json", kChromiumNavigation));
  EXPECT_FALSE(wants_answer_page(kForm, "text/html;q=0"));
}

http::Response json_answer(http::Status status, std::string body) {
  http::Response response{status, 11};
  response.set(bhttp::field::content_type, "application/json");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

TEST(AnswerPage, AcceptedShowsThanksAndTheReference) {
  const auto page = answer_page(json_answer(
      http::Status::accepted,
      R"({"correlation_id":"6f1c8a52-7d0e-5b3a-9c41-2e8f0d6b7a19","id":"6f1c8a52-7d0e-5b3a-9c41-2e8f0d6b7a19"})"));
  EXPECT_EQ(page.result(), http::Status::accepted);
  EXPECT_EQ(page[bhttp::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(page[bhttp::field::cache_control], "no-store");
  EXPECT_NE(page.body().find("Thank you"), std::string::npos);
  EXPECT_NE(page.body().find(R"(<strong id="reference">6f1c8a52-7d0e-5b3a-9c41-2e8f0d6b7a19</strong>)"),
            std::string::npos);
  EXPECT_EQ(page.body().find("<script"), std::string::npos);
}

TEST(AnswerPage, ErrorsInWordsWithTheStatusKept) {
  const auto missing = answer_page(
      json_answer(http::Status::bad_request,
                  R"({"error":{"code":"missing_field","message":"field 'subject' is required","field":"subject"}})"));
  EXPECT_EQ(missing.result(), http::Status::bad_request);
  EXPECT_NE(missing.body().find("Please fill in the Subject field."), std::string::npos) << missing.body();

  const auto too_long = answer_page(
      json_answer(http::Status::bad_request, R"({"error":{"code":"field_too_long","message":"x","field":"message"}})"));
  EXPECT_NE(too_long.body().find("at most 10000 characters"), std::string::npos) << too_long.body();

  auto unavailable = json_answer(http::Status::service_unavailable,
                                 R"({"error":{"code":"kafka_unavailable","message":"retry later"}})");
  unavailable.set(bhttp::field::retry_after, "1");
  const auto busy = answer_page(unavailable);
  EXPECT_EQ(busy.result(), http::Status::service_unavailable);
  EXPECT_EQ(busy[bhttp::field::retry_after], "1");
  EXPECT_NE(busy.body().find("has not been sent"), std::string::npos);
}

TEST(AnswerPage, EscapesWhatTheRequestCouldCarry) {
  // duplicate_field names a field the sender chose: it must never become markup.
  const auto page = answer_page(json_answer(
      http::Status::bad_request,
      R"({"error":{"code":"some_future_code","message":"<img src=x onerror=alert(1)> & 'q'","field":"<b>"}})"));
  EXPECT_EQ(page.body().find("<img"), std::string::npos);
  EXPECT_NE(page.body().find("&lt;img src=x onerror=alert(1)&gt; &amp; &#39;q&#39;"), std::string::npos) << page.body();
}

TEST(AnswerPage, UnreadableAnswerStillGivesAPage) {
  const auto page = answer_page(json_answer(http::Status::internal_server_error, "not json"));
  EXPECT_EQ(page.result(), http::Status::internal_server_error);
  EXPECT_NE(page.body().find("could not be sent"), std::string::npos) << page.body();
}

} // namespace
} // namespace fte::gateway
