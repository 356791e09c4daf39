#include "fte/gmail/token_source.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fte/gmail/errors.hpp"
#include "fte/gmail/wire.hpp"
#include "fte/mail/mail.hpp"
#include "fte/outbound_http/client.hpp"

namespace fte::gmail {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};

std::string openssl_error(const char* what) {
  std::string message = what;
  if (const auto code = ERR_get_error(); code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    message += ": ";
    message += buffer;
  }
  ERR_clear_error();
  return message;
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

// A JWT assertion lives an hour at most (Google's limit).
constexpr std::chrono::seconds kAssertionLifetime{3600};

} // namespace

std::string sign_rs256_jwt(const std::string& header_json, const std::string& claims_json,
                           const std::string& private_key_pem) {
  const std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  if (!bio) throw std::runtime_error(openssl_error("BIO_new_mem_buf"));
  const std::unique_ptr<EVP_PKEY, KeyDeleter> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::runtime_error(openssl_error("the service account's private_key is not a PEM private key"));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
    throw std::runtime_error("the service account's private_key is not an RSA key (RS256 needs one)");
  const std::string signing_input = mail::base64url_encode(header_json) + "." + mail::base64url_encode(claims_json);
  const std::unique_ptr<EVP_MD_CTX, DigestContextDeleter> context(EVP_MD_CTX_new());
  if (!context) throw std::runtime_error(openssl_error("EVP_MD_CTX_new"));
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1)
    throw std::runtime_error(openssl_error("EVP_DigestSignInit"));
  std::size_t length = 0;
  const auto* input = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestSign(context.get(), nullptr, &length, input, signing_input.size()) != 1)
    throw std::runtime_error(openssl_error("EVP_DigestSign (length)"));
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, input,
                     signing_input.size()) != 1)
    throw std::runtime_error(openssl_error("EVP_DigestSign"));
  signature.resize(length);
  return signing_input + "." + mail::base64url_encode(signature);
}

ServiceAccountCredentials ServiceAccountCredentials::from_file(const std::string& path) {
  constexpr const char* kVariable = "FTE_GOOGLE_SERVICE_ACCOUNT_FILE";
  std::ifstream in(path);
  if (!in) throw ConfigError(kVariable, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  const auto key = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (key.is_discarded() || !key.is_object()) throw ConfigError(kVariable, path + " is not JSON");
  const auto member = [&](const char* name) {
    const auto it = key.find(name);
    return it != key.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (member("type") != "service_account")
    throw ConfigError(kVariable, path + " is not a service-account key (type must be service_account)");
  ServiceAccountCredentials credentials{member("client_email"), member("private_key"), member("private_key_id")};
  if (credentials.client_email.empty() || credentials.private_key_pem.empty())
    throw ConfigError(kVariable, path + " lacks client_email or private_key");
  try { // a bad key is a start-up error, not a failure at the first mail
    (void)sign_rs256_jwt("{}", "{}", credentials.private_key_pem);
  } catch (const std::runtime_error& e) {
    throw ConfigError(kVariable, path + ": " + e.what());
  }
  return credentials;
}

struct GoogleTokenSource::Entry {
  std::mutex mutex; // held while this key's token is fetched: one refresh at a time
  std::string token;
  std::chrono::system_clock::time_point expires_at;
};

GoogleTokenSource::GoogleTokenSource(TokenSourceOptions options) : options_(std::move(options)) {}
GoogleTokenSource::~GoogleTokenSource() = default;

std::string GoogleTokenSource::cache_key(std::string_view mailbox) const {
  // The refresh-token flow speaks for one account whatever the mailbox.
  return std::holds_alternative<RefreshTokenCredentials>(options_.credentials) ? std::string() : std::string(mailbox);
}

std::shared_ptr<GoogleTokenSource::Entry> GoogleTokenSource::entry_for(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto& entry = entries_[key];
  if (!entry) entry = std::make_shared<Entry>();
  return entry;
}

std::string GoogleTokenSource::access_token(std::string_view mailbox) {
  const auto entry = entry_for(cache_key(mailbox));
  std::lock_guard lock(entry->mutex);
  if (!entry->token.empty() && options_.now() + options_.refresh_margin < entry->expires_at) return entry->token;
  auto fetched = fetch(mailbox);
  entry->token = std::move(fetched.token);
  entry->expires_at = fetched.expires_at;
  return entry->token;
}

void GoogleTokenSource::invalidate(std::string_view mailbox, std::string_view token) {
  const auto entry = entry_for(cache_key(mailbox));
  std::lock_guard lock(entry->mutex);
  if (entry->token == token) entry->token.clear();
}

std::uint64_t GoogleTokenSource::fetches() const {
  std::lock_guard lock(mutex_);
  return fetches_;
}

GoogleTokenSource::Fetched GoogleTokenSource::fetch(std::string_view mailbox) {
  const auto now = options_.now();
  std::vector<std::pair<std::string, std::string>> form;
  if (const auto* refresh = std::get_if<RefreshTokenCredentials>(&options_.credentials)) {
    form = {{"grant_type", "refresh_token"},
            {"client_id", refresh->client_id},
            {"client_secret", refresh->client_secret},
            {"refresh_token", refresh->refresh_token}};
  } else {
    const auto& account = std::get<ServiceAccountCredentials>(options_.credentials);
    nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
    if (!account.private_key_id.empty()) header["kid"] = account.private_key_id;
    const nlohmann::json claims = {{"iss", account.client_email},
                                   {"scope", options_.scope},
                                   {"aud", options_.token_url},
                                   {"iat", unix_seconds(now)},
                                   {"exp", unix_seconds(now + kAssertionLifetime)},
                                   {"sub", std::string(mailbox)}};
    std::string assertion;
    try {
      assertion = sign_rs256_jwt(header.dump(), claims.dump(), account.private_key_pem);
    } catch (const std::runtime_error& e) {
      throw ApiError(false, 0, "signing_failed", std::string("cannot sign the token request: ") + e.what());
    }
    form = {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", std::move(assertion)}};
  }
  outbound_http::Request request;
  request.method = "POST";
  request.url = options_.token_url;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.body = outbound_http::form_encode(form);
  request.timeout = options_.timeout;
  {
    std::lock_guard lock(mutex_);
    ++fetches_;
  }
  // Token requests are rare (hourly per mailbox): a client per request keeps
  // this class free of a shared curl handle.
  outbound_http::Client client;
  const auto result = client.perform(request);
  if (const auto* failure = std::get_if<outbound_http::Failure>(&result)) {
    throw ApiError(true, 0, "token_endpoint_unreachable", "token endpoint: " + failure->message);
  }
  const auto& response = std::get<outbound_http::Response>(result);
  if (response.status != 200) {
    const auto google = parse_google_error(response.body);
    // 5xx and 429 pass; a refused grant or client (400/401) stays refused
    // until an operator fixes the credentials.
    const bool retryable = response.status == 429 || response.status >= 500;
    throw ApiError(retryable, response.status, google.reason,
                   "token endpoint answered " + std::to_string(response.status) + " " + google.reason +
                       (google.message.empty() ? "" : ": " + google.message));
  }
  const auto parsed = parse_access_token(response.body);
  if (const auto* bad = std::get_if<WireError>(&parsed)) {
    throw ApiError(true, response.status, "bad_token_answer", "token endpoint: " + bad->message);
  }
  const auto& token = std::get<AccessToken>(parsed);
  return {token.token, now + token.expires_in};
}

std::shared_ptr<TokenSource> token_source_from_env(const Environment& env) {
  TokenSourceOptions options;
  options.token_url = env.get_or("FTE_GOOGLE_TOKEN_URL", kDefaultTokenUrl);
  const auto client_id = env.get("FTE_GMAIL_CLIENT_ID");
  const auto account_file = env.get("FTE_GOOGLE_SERVICE_ACCOUNT_FILE");
  const bool refresh_flow = client_id && !client_id->empty();
  const bool account_flow = account_file && !account_file->empty();
  if (refresh_flow && account_flow)
    throw ConfigError("FTE_GOOGLE_SERVICE_ACCOUNT_FILE",
                      "set either it or FTE_GMAIL_CLIENT_ID/SECRET/REFRESH_TOKEN, not both");
  if (refresh_flow) {
    options.credentials = RefreshTokenCredentials{*client_id, env.require("FTE_GMAIL_CLIENT_SECRET"),
                                                  env.require("FTE_GMAIL_REFRESH_TOKEN")};
  } else if (account_flow) {
    options.credentials = ServiceAccountCredentials::from_file(*account_file);
  } else {
    return nullptr;
  }
  return std::make_shared<GoogleTokenSource>(std::move(options));
}

} // namespace fte::gmail
