#include "fte/gmail/token_source.hpp"

#include <atomic>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fte/gmail/errors.hpp"
#include "fte/gmail/testing/fake_google.hpp"
#include "fte/mail/mail.hpp"

namespace fte::gmail {
namespace {

using testing::FakeGoogle;

Environment env_of(std::map<std::string, std::string, std::less<>> vars) { return Environment(std::move(vars)); }

// A clock the test moves by hand.
struct TestClock {
  std::shared_ptr<std::atomic<std::int64_t>> seconds = std::make_shared<std::atomic<std::int64_t>>(1'764'064'800);
  [[nodiscard]] std::function<std::chrono::system_clock::time_point()> fn() const {
    return [s = seconds] { return std::chrono::system_clock::time_point(std::chrono::seconds(s->load())); };
  }
  void advance(std::chrono::seconds by) const { *seconds += by.count(); }
};

TokenSourceOptions refresh_options(const FakeGoogle& google, const TestClock& clock) {
  TokenSourceOptions options;
  options.token_url = google.token_url();
  options.credentials = RefreshTokenCredentials{"client-1", "secret-1", "refresh-1"};
  options.now = clock.fn();
  return options;
}

TEST(GoogleTokenSource, RefreshTokenFlowPostsTheGrantAndCachesUntilAMinuteBeforeExpiry) {
  FakeGoogle google;
  google.set_token_lifetime(std::chrono::seconds(3599));
  const TestClock clock;
  GoogleTokenSource tokens(refresh_options(google, clock));

  const auto first = tokens.access_token("support@example.com");
  EXPECT_EQ(tokens.access_token("other@example.com"), first) << "one account, one token";
  ASSERT_EQ(google.token_requests(), 1);
  const auto form = google.token_forms().front();
  EXPECT_EQ(form.at("grant_type"), "refresh_token");
  EXPECT_EQ(form.at("client_id"), "client-1");
  EXPECT_EQ(form.at("client_secret"), "secret-1");
  EXPECT_EQ(form.at("refresh_token"), "refresh-1");

  clock.advance(std::chrono::seconds(3599 - 61));
  EXPECT_EQ(tokens.access_token("support@example.com"), first) << "61 s left: still good";
  clock.advance(std::chrono::seconds(2));
  const auto second = tokens.access_token("support@example.com");
  EXPECT_NE(second, first) << "59 s left: replaced";
  EXPECT_EQ(google.token_requests(), 2);
}

TEST(GoogleTokenSource, InvalidateDropsOnlyTheTokenThatWasRefused) {
  FakeGoogle google;
  const TestClock clock;
  GoogleTokenSource tokens(refresh_options(google, clock));
  const auto first = tokens.access_token("a@example.com");
  tokens.invalidate("a@example.com", "some-older-token");
  EXPECT_EQ(tokens.access_token("a@example.com"), first);
  tokens.invalidate("a@example.com", first);
  EXPECT_NE(tokens.access_token("a@example.com"), first);
  EXPECT_EQ(google.token_requests(), 2);
}

TEST(GoogleTokenSource, ConcurrentCallersShareOneRefresh) {
  FakeGoogle google;
  google.delay_next("/token", std::chrono::milliseconds(200));
  const TestClock clock;
  GoogleTokenSource tokens(refresh_options(google, clock));
  std::vector<std::thread> threads;
  std::vector<std::string> seen(8);
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = tokens.access_token("a@example.com"); });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(google.token_requests(), 1);
  for (const auto& token : seen)
    EXPECT_EQ(token, seen.front());
}

TEST(GoogleTokenSource, RefusedGrantIsPermanentAndOutageIsRetryable) {
  FakeGoogle google;
  const TestClock clock;
  GoogleTokenSource tokens(refresh_options(google, clock));
  google.fail_token_endpoint(400, "invalid_grant");
  try {
    (void)tokens.access_token("a@example.com");
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.reason(), "invalid_grant");
    EXPECT_NE(std::string(e.what()).find("scripted token failure"), std::string::npos) << e.what();
  }
  google.fail_token_endpoint(503, "backend_error");
  try {
    (void)tokens.access_token("a@example.com");
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_FALSE(tokens.access_token("a@example.com").empty()) << "recovers once the endpoint does";
}

TEST(GoogleTokenSource, UnreachableEndpointIsRetryable) {
  TokenSourceOptions options;
  options.token_url = "http://127.0.0.1:1/token";
  options.credentials = RefreshTokenCredentials{"c", "s", "r"};
  GoogleTokenSource tokens(options);
  try {
    (void)tokens.access_token("a@example.com");
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(e.status(), 0);
  }
}

bool verify_rs256(const std::string& jwt, const std::string& public_key_pem) {
  const auto last_dot = jwt.rfind('.');
  const auto input = jwt.substr(0, last_dot);
  const auto signature = mail::base64url_decode(jwt.substr(last_dot + 1)).value_or("");
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())), &BIO_free);
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return key && EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

nlohmann::json jwt_part(const std::string& jwt, int index) {
  std::size_t start = 0;
  for (int i = 0; i < index; ++i)
    start = jwt.find('.', start) + 1;
  const auto end = jwt.find('.', start);
  return nlohmann::json::parse(mail::base64url_decode(jwt.substr(start, end - start)).value_or("null"));
}

TEST(GoogleTokenSource, ServiceAccountFlowSignsAnRs256AssertionPerMailbox) {
  FakeGoogle google;
  const auto key_file = std::string(::testing::TempDir()) + "/fte-sa-key.json";
  {
    std::ofstream out(key_file);
    out << nlohmann::json{{"type", "service_account"},
                          {"project_id", "p"},
                          {"private_key_id", "kid-1"},
                          {"private_key", testing::test_rsa_private_key_pem()},
                          {"client_email", "fte@p.iam.gserviceaccount.com"},
                          {"token_uri", "https://oauth2.googleapis.com/token"}}
               .dump();
  }
  const auto tokens = token_source_from_env(
      env_of({{"FTE_GOOGLE_SERVICE_ACCOUNT_FILE", key_file}, {"FTE_GOOGLE_TOKEN_URL", google.token_url()}}));
  ASSERT_TRUE(tokens);
  const auto support = tokens->access_token("support@example.com");
  const auto sales = tokens->access_token("sales@example.com");
  EXPECT_NE(support, sales) << "a token per delegated mailbox";
  EXPECT_EQ(tokens->access_token("support@example.com"), support);
  ASSERT_EQ(google.token_requests(), 2);

  const auto form = google.token_forms().front();
  EXPECT_EQ(form.at("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer");
  const auto& assertion = form.at("assertion");
  EXPECT_TRUE(verify_rs256(assertion, testing::public_key_pem_of(testing::test_rsa_private_key_pem())));
  const auto header = jwt_part(assertion, 0);
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["kid"], "kid-1");
  const auto claims = jwt_part(assertion, 1);
  EXPECT_EQ(claims["iss"], "fte@p.iam.gserviceaccount.com");
  EXPECT_EQ(claims["sub"], "support@example.com");
  EXPECT_EQ(claims["aud"], google.token_url());
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/gmail.modify");
  EXPECT_EQ(claims["exp"].get<std::int64_t>() - claims["iat"].get<std::int64_t>(), 3600);
}

TEST(GoogleTokenSource, Configuration) {
  EXPECT_EQ(token_source_from_env(env_of({})), nullptr);
  EXPECT_THROW((void)token_source_from_env(env_of({{"FTE_GMAIL_CLIENT_ID", "c"}})), ConfigError);
  EXPECT_THROW((void)token_source_from_env(env_of({{"FTE_GOOGLE_SERVICE_ACCOUNT_FILE", "/nonexistent.json"}})),
               ConfigError);
  const auto bad_key = std::string(::testing::TempDir()) + "/fte-bad-key.json";
  {
    std::ofstream out(bad_key);
    out << R"({"type": "service_account", "client_email": "x@y", "private_key": "not a key"})";
  }
  EXPECT_THROW((void)token_source_from_env(env_of({{"FTE_GOOGLE_SERVICE_ACCOUNT_FILE", bad_key}})), ConfigError);
  EXPECT_NE(token_source_from_env(env_of(
                {{"FTE_GMAIL_CLIENT_ID", "c"}, {"FTE_GMAIL_CLIENT_SECRET", "s"}, {"FTE_GMAIL_REFRESH_TOKEN", "r"}})),
            nullptr);
}

} // namespace
} // namespace fte::gmail
