#include "fte/gmail/testing/fake_google.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "fte/http/server.hpp"
#include "fte/mail/mail.hpp"

namespace fte::gmail::testing {
namespace {

namespace bhttp = boost::beast::http;
using nlohmann::json;

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_pairs(std::string_view text) {
  std::map<std::string, std::string> pairs;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto pair = text.substr(0, amp);
    const auto eq = pair.find('=');
    pairs[percent_decode(pair.substr(0, eq))] = eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return pairs;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The Message-ID header of a raw message, without angle brackets.
std::string message_id_of(const std::string& rfc822) {
  std::size_t pos = 0;
  while (pos < rfc822.size()) {
    auto end = rfc822.find('\n', pos);
    if (end == std::string::npos) end = rfc822.size();
    std::string line = rfc822.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "message-id") {
      auto value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      if (value.size() >= 2 && value.front() == '<' && value.back() == '>') value = value.substr(1, value.size() - 2);
      return value;
    }
    pos = end + 1;
  }
  return {};
}

bool has_label(const FakeMessage& message, const std::string& label) {
  return std::find(message.labels.begin(), message.labels.end(), label) != message.labels.end();
}

http::Response json_answer(unsigned version, int status, const json& body) {
  return http::json_response(static_cast<http::Status>(status), body, version);
}

http::Response google_error(unsigned version, int status, const std::string& reason, const std::string& message) {
  static const std::map<int, std::string> kStatus = {
      {400, "INVALID_ARGUMENT"},   {401, "UNAUTHENTICATED"}, {403, "PERMISSION_DENIED"}, {404, "NOT_FOUND"},
      {429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"},        {503, "UNAVAILABLE"}};
  const auto status_name = kStatus.contains(status) ? kStatus.at(status) : "UNKNOWN";
  return json_answer(version, status,
                     {{"error",
                       {{"code", status},
                        {"message", message},
                        {"errors", json::array({{{"message", message}, {"domain", "global"}, {"reason", reason}}})},
                        {"status", status_name}}}});
}

} // namespace

struct FakeGoogle::State {
  struct Record {
    std::uint64_t id;
    std::string message_id;
  };
  struct Mailbox {
    std::vector<FakeMessage> messages;
    std::vector<Record> records;
    std::uint64_t floor = 0;
  };
  struct FailRule {
    std::string part;
    int status;
    int remaining;
    std::string body;
    std::optional<int> retry_after;
  };
  struct DelayRule {
    std::string part;
    std::chrono::milliseconds delay;
    int remaining;
  };

  mutable std::mutex mutex;
  std::map<std::string, Mailbox> mailboxes;
  std::uint64_t history_counter = 1000;
  std::set<std::string> hidden;
  int page_size = 100;
  std::vector<FailRule> fails;
  std::vector<DelayRule> delays;
  std::set<std::string> valid_tokens;
  int token_counter = 0;
  std::chrono::seconds token_lifetime{3599};
  int token_fail_status = 0;
  int token_fail_remaining = 0;
  std::string token_fail_error;
  std::vector<std::map<std::string, std::string>> token_forms;
  std::vector<RecordedRequest> requests;
  std::string watch_body;
  int id_counter = 0;

  boost::asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::thread thread;

  std::uint64_t next_history_id() {
    history_counter += 3; // Gmail's ids grow with gaps
    return history_counter;
  }

  std::uint64_t add_message(const std::string& mailbox, FakeMessage message) {
    auto& box = mailboxes[mailbox];
    message.history_id = next_history_id();
    if (message.id.empty()) message.id = "m" + std::to_string(++id_counter);
    if (message.thread_id.empty()) message.thread_id = message.id;
    box.records.push_back({message.history_id, message.id});
    const auto id = message.history_id;
    box.messages.push_back(std::move(message));
    return id;
  }

  const FakeMessage* find(const Mailbox& box, const std::string& id) const {
    for (const auto& m : box.messages)
      if (m.id == id) return &m;
    return nullptr;
  }

  // Answers one request while holding the mutex.
  http::Response answer(const http::Request& request, std::chrono::milliseconds& delay) {
    const std::string target(request.target());
    const auto version = request.version();
    requests.push_back({std::string(request.method_string()), target, std::string(request[bhttp::field::authorization]),
                        request.body()});
    for (auto& rule : fails) {
      if (rule.remaining > 0 && target.find(rule.part) != std::string::npos) {
        --rule.remaining;
        http::Response response{static_cast<http::Status>(rule.status), version};
        response.set(bhttp::field::content_type, "application/json");
        if (rule.retry_after) response.set(bhttp::field::retry_after, std::to_string(*rule.retry_after));
        response.body() =
            rule.body.empty()
                ? json{{"error", {{"code", rule.status}, {"message", "scripted failure"}, {"status", "SCRIPTED"}}}}
                      .dump()
                : rule.body;
        response.prepare_payload();
        return response;
      }
    }
    for (auto& rule : delays) {
      if (rule.remaining > 0 && target.find(rule.part) != std::string::npos) {
        --rule.remaining;
        delay = rule.delay;
      }
    }
    const auto question = target.find('?');
    const std::string path = target.substr(0, question);
    const auto query = question == std::string::npos ? std::map<std::string, std::string>()
                                                     : parse_pairs(std::string_view(target).substr(question + 1));
    if (path == "/token") return token(request);

    const std::string prefix = "/gmail/v1/users/";
    if (!path.starts_with(prefix)) return google_error(version, 404, "notFound", "no such path " + path);
    const auto authorization = std::string(request[bhttp::field::authorization]);
    if (!authorization.starts_with("Bearer ") || !valid_tokens.contains(authorization.substr(7))) {
      return google_error(version, 401, "authError", "Request had invalid authentication credentials.");
    }
    const auto rest = path.substr(prefix.size());
    const auto slash = rest.find('/');
    const auto mailbox = percent_decode(rest.substr(0, slash));
    const auto resource = slash == std::string::npos ? std::string() : rest.substr(slash);
    auto& box = mailboxes[mailbox];
    const auto method = std::string(request.method_string());

    if (method == "GET" && resource == "/history") return history(version, box, query);
    if (method == "GET" && resource == "/messages") return list(version, box, query);
    if (method == "GET" && resource == "/profile") {
      return json_answer(version, 200,
                         {{"emailAddress", mailbox},
                          {"messagesTotal", box.messages.size()},
                          {"threadsTotal", box.messages.size()},
                          {"historyId", std::to_string(history_counter)}});
    }
    if (method == "POST" && resource == "/messages/send") return send(version, mailbox, request.body());
    if (method == "GET" && resource.starts_with("/messages/")) {
      const auto id = percent_decode(resource.substr(std::string("/messages/").size()));
      const auto* message = find(box, id);
      if (message == nullptr || hidden.contains(id))
        return google_error(version, 404, "notFound", "Requested entity was not found.");
      if (query.count("format") == 0 || query.at("format") != "raw")
        return google_error(version, 400, "invalidArgument", "this fake serves format=raw only");
      return json_answer(version, 200,
                         {{"id", message->id},
                          {"threadId", message->thread_id},
                          {"labelIds", message->labels},
                          {"snippet", ""},
                          {"sizeEstimate", message->rfc822.size()},
                          {"historyId", std::to_string(message->history_id)},
                          {"internalDate", std::to_string(message->internal_date_ms)},
                          {"raw", mail::base64url_encode(message->rfc822)}});
    }
    if (method == "POST" && resource == "/watch") {
      watch_body = request.body();
      const auto body = json::parse(request.body(), nullptr, false);
      if (body.is_discarded() || !body.contains("topicName"))
        return google_error(version, 400, "invalidArgument", "Invalid topicName");
      const auto expiration = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  (std::chrono::system_clock::now() + std::chrono::hours(24 * 7)).time_since_epoch())
                                  .count();
      return json_answer(version, 200,
                         {{"historyId", std::to_string(history_counter)}, {"expiration", std::to_string(expiration)}});
    }
    if (method == "POST" && resource == "/stop") {
      http::Response response{http::Status::no_content, version};
      response.prepare_payload();
      return response;
    }
    return google_error(version, 404, "notFound", "no such method " + method + " " + resource);
  }

  http::Response token(const http::Request& request) {
    const auto version = request.version();
    const auto form = parse_pairs(request.body());
    token_forms.push_back(form);
    if (token_fail_remaining > 0) {
      --token_fail_remaining;
      return json_answer(version, token_fail_status,
                         {{"error", token_fail_error}, {"error_description", "scripted token failure"}});
    }
    const auto grant = form.count("grant_type") ? form.at("grant_type") : "";
    if (grant != "refresh_token" && grant != "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return json_answer(version, 400, {{"error", "unsupported_grant_type"}, {"error_description", grant}});
    const auto token = "tok-" + std::to_string(++token_counter);
    valid_tokens.insert(token);
    return json_answer(version, 200,
                       {{"access_token", token}, {"expires_in", token_lifetime.count()}, {"token_type", "Bearer"}});
  }

  template <class T> static std::size_t page_start(const std::map<std::string, std::string>& query, const T&) {
    const auto it = query.find("pageToken");
    return it == query.end() ? 0 : static_cast<std::size_t>(std::stoul(it->second));
  }

  std::size_t page_limit(const std::map<std::string, std::string>& query) const {
    const auto it = query.find("maxResults");
    const auto wanted = it == query.end() ? 100 : std::stoi(it->second);
    return static_cast<std::size_t>(std::min(wanted, page_size));
  }

  http::Response history(unsigned version, const Mailbox& box, const std::map<std::string, std::string>& query) {
    if (!query.contains("startHistoryId"))
      return google_error(version, 400, "invalidArgument", "startHistoryId is required");
    const auto start = std::stoull(query.at("startHistoryId"));
    if (start < box.floor) return google_error(version, 404, "notFound", "Requested entity was not found.");
    std::vector<const Record*> after;
    for (const auto& record : box.records)
      if (record.id > start) after.push_back(&record);
    const auto first = page_start(query, after);
    const auto limit = page_limit(query);
    json records = json::array();
    for (std::size_t i = first; i < after.size() && i < first + limit; ++i) {
      const auto* message = find(box, after[i]->message_id);
      json ref = {{"id", after[i]->message_id}, {"threadId", message ? message->thread_id : after[i]->message_id}};
      if (message) ref["labelIds"] = message->labels;
      records.push_back({{"id", std::to_string(after[i]->id)},
                         {"messages", json::array({ref})},
                         {"messagesAdded", json::array({{{"message", ref}}})}});
    }
    json body = {{"historyId", std::to_string(history_counter)}};
    if (!records.empty()) body["history"] = records;
    if (first + limit < after.size()) body["nextPageToken"] = std::to_string(first + limit);
    return json_answer(version, 200, body);
  }

  http::Response list(unsigned version, const Mailbox& box, const std::map<std::string, std::string>& query) {
    std::vector<const FakeMessage*> matched;
    const auto q = query.count("q") ? query.at("q") : "";
    for (const auto& message : box.messages) {
      if (hidden.contains(message.id)) continue;
      bool keep = true;
      std::size_t pos = 0;
      while (keep && pos < q.size()) {
        auto end = q.find(' ', pos);
        if (end == std::string::npos) end = q.size();
        const auto term = q.substr(pos, end - pos);
        pos = end + 1;
        if (term.starts_with("after:")) {
          keep = message.internal_date_ms / 1000 > std::stoll(term.substr(6));
        } else if (term == "in:sent") {
          keep = has_label(message, "SENT");
        } else if (term.starts_with("rfc822msgid:")) {
          keep = message_id_of(message.rfc822) == term.substr(12);
        }
      }
      if (keep) matched.push_back(&message);
    }
    std::stable_sort(matched.begin(), matched.end(),
                     [](const auto* a, const auto* b) { return a->internal_date_ms > b->internal_date_ms; });
    const auto first = page_start(query, matched);
    const auto limit = page_limit(query);
    json messages = json::array();
    for (std::size_t i = first; i < matched.size() && i < first + limit; ++i)
      messages.push_back({{"id", matched[i]->id}, {"threadId", matched[i]->thread_id}});
    json body = {{"resultSizeEstimate", matched.size()}};
    if (!messages.empty()) body["messages"] = messages;
    if (first + limit < matched.size()) body["nextPageToken"] = std::to_string(first + limit);
    return json_answer(version, 200, body);
  }

  http::Response send(unsigned version, const std::string& mailbox, const std::string& request_body) {
    const auto body = json::parse(request_body, nullptr, false);
    if (body.is_discarded() || !body.contains("raw") || !body["raw"].is_string())
      return google_error(version, 400, "invalidArgument", "'raw' is required");
    const auto raw = mail::base64url_decode(body["raw"].get<std::string>());
    if (!raw) return google_error(version, 400, "invalidArgument", "Invalid value for ByteString");
    FakeMessage message;
    message.id = "s" + std::to_string(++id_counter);
    message.thread_id = body.contains("threadId") ? body["threadId"].get<std::string>() : message.id;
    message.labels = {"SENT"};
    message.internal_date_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    message.rfc822 = *raw;
    const auto id = message.id;
    const auto thread_id = message.thread_id;
    add_message(mailbox, std::move(message));
    return json_answer(version, 200, {{"id", id}, {"threadId", thread_id}, {"labelIds", json::array({"SENT"})}});
  }
};

FakeGoogle::FakeGoogle() : state_(std::make_unique<State>()) {
  http::ServerOptions options;
  options.address = "127.0.0.1";
  options.body_limit = 16 * 1024 * 1024;
  auto* state = state_.get();
  state_->server = std::make_unique<http::Server>(
      state_->io.get_executor(), options,
      [state](http::Request request) -> boost::asio::awaitable<http::Response> {
        std::chrono::milliseconds delay{0};
        http::Response response;
        {
          std::lock_guard lock(state->mutex);
          response = state->answer(request, delay);
        }
        if (delay.count() > 0) {
          boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, delay);
          co_await timer.async_wait(boost::asio::use_awaitable);
        }
        co_return response;
      },
      Logger::to_stderr("fake-google", spdlog::level::warn));
  state_->server->start();
  state_->thread = std::thread([state] { state->io.run(); });
}

FakeGoogle::~FakeGoogle() {
  state_->server->stop();
  state_->io.stop();
  state_->thread.join();
}

std::string FakeGoogle::base_url() const { return "http://127.0.0.1:" + std::to_string(state_->server->port()); }
std::string FakeGoogle::token_url() const { return base_url() + "/token"; }

std::uint64_t FakeGoogle::deliver(const std::string& mailbox, FakeMessage message) {
  std::lock_guard lock(state_->mutex);
  return state_->add_message(mailbox, std::move(message));
}

std::uint64_t FakeGoogle::touch(const std::string& mailbox) {
  std::lock_guard lock(state_->mutex);
  (void)state_->mailboxes[mailbox];
  return state_->next_history_id();
}

std::uint64_t FakeGoogle::current_history_id(const std::string&) const {
  std::lock_guard lock(state_->mutex);
  return state_->history_counter;
}

void FakeGoogle::forget_history_before(const std::string& mailbox, std::uint64_t history_id) {
  std::lock_guard lock(state_->mutex);
  state_->mailboxes[mailbox].floor = history_id;
}

void FakeGoogle::hide(const std::string& message_id, bool hidden) {
  std::lock_guard lock(state_->mutex);
  if (hidden) {
    state_->hidden.insert(message_id);
  } else {
    state_->hidden.erase(message_id);
  }
}

void FakeGoogle::set_page_size(int size) {
  std::lock_guard lock(state_->mutex);
  state_->page_size = size;
}

void FakeGoogle::fail_next(const std::string& target_part, int status, int count, std::string body,
                           std::optional<int> retry_after) {
  std::lock_guard lock(state_->mutex);
  state_->fails.push_back({target_part, status, count, std::move(body), retry_after});
}

void FakeGoogle::delay_next(const std::string& target_part, std::chrono::milliseconds delay, int count) {
  std::lock_guard lock(state_->mutex);
  state_->delays.push_back({target_part, delay, count});
}

void FakeGoogle::revoke_tokens() {
  std::lock_guard lock(state_->mutex);
  state_->valid_tokens.clear();
}

void FakeGoogle::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(state_->mutex);
  state_->token_lifetime = lifetime;
}

void FakeGoogle::fail_token_endpoint(int status, std::string error, int count) {
  std::lock_guard lock(state_->mutex);
  state_->token_fail_status = status;
  state_->token_fail_error = std::move(error);
  state_->token_fail_remaining = count;
}

int FakeGoogle::token_requests() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<int>(state_->token_forms.size());
}

std::vector<std::map<std::string, std::string>> FakeGoogle::token_forms() const {
  std::lock_guard lock(state_->mutex);
  return state_->token_forms;
}

std::vector<RecordedRequest> FakeGoogle::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

int FakeGoogle::count_requests(const std::string& target_part) const {
  std::lock_guard lock(state_->mutex);
  return static_cast<int>(std::count_if(state_->requests.begin(), state_->requests.end(), [&](const auto& r) {
    return r.target.find(target_part) != std::string::npos;
  }));
}

std::vector<FakeMessage> FakeGoogle::sent(const std::string& mailbox) const {
  std::lock_guard lock(state_->mutex);
  std::vector<FakeMessage> result;
  const auto it = state_->mailboxes.find(mailbox);
  if (it == state_->mailboxes.end()) return result;
  for (const auto& message : it->second.messages)
    if (has_label(message, "SENT")) result.push_back(message);
  return result;
}

std::string FakeGoogle::last_watch_body() const {
  std::lock_guard lock(state_->mutex);
  return state_->watch_body;
}

std::string make_rfc822(const std::string& from, const std::string& to, const std::string& subject,
                        const std::string& body, const std::string& message_id, const std::string& extra_headers) {
  return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: " + message_id +
         "\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
         extra_headers + "\r\n" + body + "\r\n";
}

namespace {
struct BioDeleter {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const auto length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(length));
}
} // namespace

const std::string& test_rsa_private_key_pem() {
  static const std::string pem = [] {
    const std::unique_ptr<EVP_PKEY, KeyDeleter> key(EVP_RSA_gen(2048));
    const std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
    if (!key || !bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw std::runtime_error("cannot generate a test RSA key");
    return bio_text(bio.get());
  }();
  return pem;
}

std::string public_key_pem_of(const std::string& private_key_pem) {
  const std::unique_ptr<BIO, BioDeleter> in(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  const std::unique_ptr<EVP_PKEY, KeyDeleter> key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  const std::unique_ptr<BIO, BioDeleter> out(BIO_new(BIO_s_mem()));
  if (!key || !out || PEM_write_bio_PUBKEY(out.get(), key.get()) != 1)
    throw std::runtime_error("cannot read the test RSA key");
  return bio_text(out.get());
}

} // namespace fte::gmail::testing
