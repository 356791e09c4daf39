#include "desk_sign_in.hpp"

#include <future>

#include <boost/url/parse.hpp>

#include "fte/common/text.hpp"
#include "fte/oidc/jwt.hpp"

namespace fte::escalation {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono;

std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return items;
}

bool contains_any(const std::vector<std::string>& have, const std::vector<std::string>& wanted) {
  for (const auto& group : have)
    for (const auto& name : wanted)
      if (group == name) return true;
  return false;
}

// The query parameters of the request target; nullopt when it is not a URL.
std::optional<std::map<std::string, std::string>> query_of(const http::Request& request) {
  // A NUL-terminated copy: Boost.URL 1.81 may strlen its input.
  const std::string target(request.target().data(), request.target().size());
  if (target.find('\0') != std::string::npos) return std::nullopt;
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  std::map<std::string, std::string> params;
  for (const auto& param : url->params())
    params.emplace(param.key, param.value);
  return params;
}

http::Response redirect(bhttp::status status, const std::string& location) {
  http::Response response{status, 11};
  response.set(bhttp::field::location, location);
  response.set(bhttp::field::cache_control, "no-store");
  response.prepare_payload();
  return response;
}

http::Response identity_provider_unavailable() {
  return http::error_response(http::Status::service_unavailable, "identity_provider_unavailable",
                              "sign-in is unavailable: the identity provider cannot be reached");
}

std::string claim_text(const nlohmann::json& claims, const char* name) {
  const auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

http::Response database_unavailable(std::string_view what) {
  auto response = http::error_response(http::Status::service_unavailable, "database_unavailable",
                                       std::string(what) + " cannot be read right now; retry later");
  response.set(bhttp::field::retry_after, "1");
  return response;
}

std::optional<SignInSettings> SignInSettings::from_env(const Environment& env, std::string_view http_addr) {
  SignInSettings settings;
  settings.issuer = env.get_or("FTE_OIDC_ISSUER", "");
  if (settings.issuer.empty()) return std::nullopt;
  settings.client_id = env.get_or("FTE_OIDC_CLIENT_ID", "fte-desk");
  settings.client_secret = env.require("FTE_OIDC_CLIENT_SECRET");
  std::string host(http_addr);
  if (host.starts_with("0.0.0.0:")) host = "127.0.0.1" + host.substr(7);
  settings.public_url = env.get_or("FTE_DESK_PUBLIC_URL", "http://" + host);
  while (settings.public_url.ends_with('/'))
    settings.public_url.pop_back();
  if (!settings.public_url.starts_with("http://") && !settings.public_url.starts_with("https://")) {
    throw ConfigError("FTE_DESK_PUBLIC_URL", "must be an http:// or https:// URL, not '" + settings.public_url + "'");
  }
  settings.groups_claim = env.get_or("FTE_OIDC_GROUPS_CLAIM", settings.groups_claim);
  settings.agent_groups = comma_list(env.get_or("FTE_DESK_AGENT_GROUPS", "fte-agents"));
  settings.supervisor_groups = comma_list(env.get_or("FTE_DESK_SUPERVISOR_GROUPS", "fte-supervisors"));
  settings.idle = minutes(env.get_int("FTE_DESK_SESSION_IDLE_MINUTES", 30, 1, 24 * 60));
  settings.lifetime = hours(env.get_int("FTE_DESK_SESSION_HOURS", 12, 1, 24 * 30));
  settings.clock_skew = seconds(env.get_int("FTE_OIDC_CLOCK_SKEW_SECONDS", 60, 0, 600));
  return settings;
}

std::optional<access::Role> role_from_groups(const std::vector<std::string>& groups, const SignInSettings& settings) {
  if (contains_any(groups, settings.supervisor_groups)) return access::Role::supervisor;
  if (contains_any(groups, settings.agent_groups)) return access::Role::agent;
  return std::nullopt;
}

std::string session_cookie(std::string_view secret, const SignInSettings& settings) {
  return std::string(kSessionCookie) + "=" + std::string(secret) +
         "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(settings.lifetime.count()) +
         (settings.secure() ? "; Secure" : "");
}

std::string cleared_session_cookie(const SignInSettings& settings) {
  return std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0" +
         (settings.secure() ? "; Secure" : "");
}

DeskSignIn::DeskSignIn(SignInSettings settings, pg::ConnectionPool& database, Logger logger)
    : settings_(std::move(settings)), database_(database), logger_(std::move(logger)),
      client_(outbound_http::ClientOptions{"fte-escalation", "", 1024 * 1024}) {}

DeskSignIn::~DeskSignIn() = default;

oidc::ProviderMetadata DeskSignIn::provider() {
  // Called with mutex_ held.
  if (provider_) return *provider_;
  outbound_http::Request request;
  request.url = settings_.issuer + "/.well-known/openid-configuration";
  request.timeout = seconds(5);
  const auto answer = client_.perform(request);
  if (const auto* failure = std::get_if<outbound_http::Failure>(&answer)) {
    throw std::runtime_error("discovery failed: " + failure->message);
  }
  const auto& response = std::get<outbound_http::Response>(answer);
  if (response.status != 200) {
    throw std::runtime_error("discovery answered HTTP " + std::to_string(response.status) + " from " + request.url);
  }
  auto metadata = oidc::parse_provider_metadata(response.body, settings_.issuer);
  if (const auto* reason = std::get_if<std::string>(&metadata)) throw std::runtime_error(*reason);
  provider_ = std::get<oidc::ProviderMetadata>(metadata);
  oidc::JwksCacheOptions keys;
  keys.url = provider_->jwks_uri;
  keys.client.user_agent = "fte-escalation";
  keys_ = std::make_unique<oidc::JwksCache>(keys, logger_.with({{"component", "desk-jwks"}}));
  logger_.info("identity provider discovered", {{"issuer", provider_->issuer}, {"jwks_uri", provider_->jwks_uri}});
  return *provider_;
}

http::Response DeskSignIn::login(const http::Request& request) {
  const auto query = query_of(request);
  std::string return_to = "/";
  if (query) {
    if (const auto it = query->find("return_to"); it != query->end()) {
      if (!http::is_local_path(it->second)) {
        return http::error_response(http::Status::bad_request, "invalid_return_to",
                                    "return_to must be a path on this site", "return_to");
      }
      return_to = it->second;
    }
  }
  oidc::ProviderMetadata metadata;
  try {
    const std::lock_guard lock(mutex_);
    metadata = provider();
  } catch (const std::exception& e) {
    logger_.error("the identity provider cannot be reached", {{"error", e.what()}});
    return identity_provider_unavailable();
  }
  const auto state = oidc::new_random_value();
  access::PendingLogin pending{oidc::new_random_value(), oidc::new_code_verifier(), return_to};
  try {
    auto connection = database_.acquire();
    access::store_login(*connection, state, pending);
  } catch (const std::exception& e) {
    logger_.error("storing a sign-in failed", {{"error", e.what()}});
    return database_unavailable("sign-ins");
  }
  return redirect(
      bhttp::status::found,
      oidc::authorization_url(metadata, {settings_.client_id, settings_.redirect_uri(), "openid profile email", state,
                                         pending.nonce, oidc::code_challenge_s256(pending.code_verifier)}));
}

std::variant<access::Person, http::Response> DeskSignIn::person_from(const std::string& id_token,
                                                                     const access::PendingLogin& login) {
  const auto refused = [this](const std::string& why) -> http::Response {
    logger_.warn("an ID token was refused", {{"reason", why}});
    return http::error_response(http::Status::bad_gateway, "identity_provider_failed",
                                "the identity provider's answer could not be verified");
  };
  auto decoded = oidc::decode_jws(id_token);
  if (const auto* failure = std::get_if<oidc::TokenFailure>(&decoded)) return refused(failure->detail);
  const auto& jws = std::get<oidc::DecodedJws>(decoded);
  std::promise<oidc::KeyLookup> found;
  auto answer = found.get_future();
  {
    const std::lock_guard lock(mutex_);
    keys_->lookup(jws.kid, [&found](oidc::KeyLookup lookup) { found.set_value(std::move(lookup)); });
  }
  const auto key = answer.get();
  if (key.status != oidc::KeyStatus::found || !key.key) return refused("no key '" + jws.kid + "': " + key.detail);
  oidc::TokenPolicy policy;
  policy.issuers = {settings_.issuer};
  policy.audience = settings_.client_id;
  policy.email = std::nullopt;
  policy.clock_skew = settings_.clock_skew;
  auto verified = oidc::verify_token(jws, *key.key, policy, system_clock::now());
  if (const auto* failure = std::get_if<oidc::TokenFailure>(&verified)) {
    return refused(std::string(oidc::to_string(failure->error)) + ": " + failure->detail);
  }
  const auto& token = std::get<oidc::VerifiedToken>(verified);
  // The nonce ties the token to this browser's sign-in (OIDC Core 3.1.3.7).
  if (claim_text(token.claims, "nonce") != login.nonce) return refused("the nonce is not this sign-in's");
  access::Person person;
  person.subject = token.subject;
  person.email = token.email;
  person.username = claim_text(token.claims, "preferred_username");
  if (person.username.empty()) person.username = !person.email.empty() ? person.email : person.subject;
  person.display_name = claim_text(token.claims, "name");
  if (person.display_name.empty()) person.display_name = person.username;
  const auto groups = oidc::string_list_claim(token.claims, settings_.groups_claim);
  const auto role = role_from_groups(groups, settings_);
  if (!role) {
    logger_.warn("a person without a desk role signed in", {{"username", person.username}});
    return http::error_response(http::Status::forbidden, "no_desk_role",
                                person.username + " is in none of the desk's groups (claim '" + settings_.groups_claim +
                                    "')");
  }
  person.role = *role;
  return person;
}

http::Response DeskSignIn::callback(const http::Request& request) {
  const auto query = query_of(request);
  if (!query)
    return http::error_response(http::Status::bad_request, "invalid_target", "the request target is not a URL");
  const auto value = [&](const char* name) {
    const auto it = query->find(name);
    return it == query->end() ? std::string() : it->second;
  };
  const auto state = value("state");
  if (state.empty()) {
    return http::error_response(http::Status::bad_request, "invalid_sign_in", "the sign-in answer has no state");
  }
  std::optional<access::PendingLogin> pending;
  try {
    auto connection = database_.acquire();
    pending = access::take_login(*connection, state, settings_.login_max_age);
  } catch (const std::exception& e) {
    logger_.error("reading a sign-in failed", {{"error", e.what()}});
    return database_unavailable("sign-ins");
  }
  if (!pending) {
    return http::error_response(http::Status::bad_request, "invalid_sign_in",
                                "this sign-in is unknown, used or older than " +
                                    std::to_string(settings_.login_max_age.count() / 60) + " minutes; sign in again");
  }
  if (const auto error = value("error"); !error.empty()) {
    return http::error_response(http::Status::bad_request, "sign_in_refused",
                                "the identity provider said " + excerpt(error, 100) + ": " +
                                    excerpt(value("error_description"), 200));
  }
  const auto code = value("code");
  if (code.empty()) return http::error_response(http::Status::bad_request, "invalid_sign_in", "no code");

  std::string id_token;
  {
    const std::lock_guard lock(mutex_);
    oidc::ProviderMetadata metadata;
    try {
      metadata = provider();
    } catch (const std::exception& e) {
      logger_.error("the identity provider cannot be reached", {{"error", e.what()}});
      return identity_provider_unavailable();
    }
    outbound_http::Request exchange;
    exchange.method = "POST";
    exchange.url = metadata.token_endpoint;
    exchange.timeout = seconds(10);
    exchange.headers = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
        {"Authorization", outbound_http::basic_auth(outbound_http::url_encode(settings_.client_id),
                                                    outbound_http::url_encode(settings_.client_secret))}};
    exchange.body = oidc::token_request_body(code, settings_.redirect_uri(), pending->code_verifier);
    const auto answer = client_.perform(exchange);
    if (const auto* failure = std::get_if<outbound_http::Failure>(&answer)) {
      logger_.error("the token request failed", {{"error", failure->message}});
      return http::error_response(http::Status::bad_gateway, "identity_provider_failed",
                                  "the identity provider did not answer the sign-in");
    }
    const auto& response = std::get<outbound_http::Response>(answer);
    auto token = oidc::read_token_response(response.status, response.body);
    if (token.index() == 1) {
      logger_.error("the token request was refused", {{"error", std::get<1>(token)}});
      return http::error_response(http::Status::bad_gateway, "identity_provider_failed",
                                  "the identity provider refused the sign-in: " + std::get<1>(token));
    }
    id_token = std::move(std::get<0>(token));
  }
  auto person = person_from(id_token, *pending);
  if (auto* refusal = std::get_if<http::Response>(&person)) return std::move(*refusal);
  const auto& who = std::get<access::Person>(person);
  try {
    auto connection = database_.acquire();
    const auto session = access::start_session(*connection, who, settings_.lifetime);
    logger_.info(
        "signed in",
        {{"username", who.username}, {"role", std::string(access::to_string(who.role))}, {"session", session.id}});
    auto response = redirect(bhttp::status::see_other, pending->return_to);
    response.set(bhttp::field::set_cookie, session_cookie(session.secret, settings_));
    return response;
  } catch (const std::exception& e) {
    logger_.error("opening a session failed", {{"error", e.what()}});
    return database_unavailable("sign-ins");
  }
}

std::optional<access::Session> DeskSignIn::session_of(const http::Request& request) {
  const auto secret = http::cookie_value(request, kSessionCookie);
  if (secret.empty()) return std::nullopt;
  auto connection = database_.acquire();
  return access::use_session(*connection, secret, settings_.idle);
}

http::Response DeskSignIn::logout(const http::Request& request) {
  {
    auto connection = database_.acquire();
    (void)access::end_session(*connection, http::cookie_value(request, kSessionCookie));
  }
  std::string provider_logout;
  {
    const std::lock_guard lock(mutex_);
    if (provider_ && !provider_->end_session_endpoint.empty()) {
      provider_logout = provider_->end_session_endpoint + "?" +
                        outbound_http::form_encode({{"client_id", settings_.client_id},
                                                    {"post_logout_redirect_uri", settings_.public_url + "/"}});
    }
  }
  nlohmann::json body = {{"signed_out", true}};
  if (!provider_logout.empty()) body["identity_provider_logout"] = provider_logout;
  auto response = http::json_response(http::Status::ok, body);
  response.set(bhttp::field::set_cookie, cleared_session_cookie(settings_));
  response.set(bhttp::field::cache_control, "no-store");
  return response;
}

} // namespace fte::escalation
