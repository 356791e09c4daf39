#include "fte/outbound_http/client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <stdexcept>

#include <curl/curl.h>
#include <openssl/evp.h>

namespace fte::outbound_http {
namespace {

// curl_global_init is not thread-safe in every build; once per process.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
  });
}

struct EasyDeleter {
  void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

struct Exchange {
  Response response;
  std::size_t limit = 0;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  if (exchange.response.body.size() + bytes > exchange.limit) {
    exchange.too_large = true;
    return 0; // makes curl fail the transfer
  }
  exchange.response.body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  std::string_view line(data, bytes);
  // A new status line (a redirect or a 100 Continue before the answer)
  // starts a new header block: keep only the final response's headers.
  if (line.starts_with("HTTP/")) {
    exchange.response.headers.clear();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  auto value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  exchange.response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return bytes;
}

FailureKind classify(CURLcode code) {
  switch (code) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT: return FailureKind::connect_failed;
  case CURLE_OPERATION_TIMEDOUT: return FailureKind::timeout;
  default: return FailureKind::transport;
  }
}

} // namespace

std::optional<std::string_view> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

struct Client::State {
  ClientOptions options;
  std::unique_ptr<CURL, EasyDeleter> easy;
  char error[CURL_ERROR_SIZE] = {};
};

Client::Client(ClientOptions options) : state_(std::make_unique<State>()) {
  init_curl_once();
  state_->options = std::move(options);
  state_->easy.reset(curl_easy_init());
  if (!state_->easy) throw std::runtime_error("curl_easy_init failed");
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

std::variant<Response, Failure> Client::perform(const Request& request) {
  CURL* easy = state_->easy.get();
  // Reset clears the options of the last request but keeps the connection
  // cache: the next request to the same host reuses the connection.
  curl_easy_reset(easy);
  state_->error[0] = '\0';
  Exchange exchange;
  exchange.limit = state_->options.max_response_bytes;

  SlistPtr headers;
  for (const auto& [name, value] : request.headers) {
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
    if (appended == nullptr) throw std::bad_alloc();
    (void)headers.release();
    headers.reset(appended);
  }
  // curl adds "Expect: 100-continue" to large POSTs; providers answer
  // without it, and it costs a round trip.
  {
    curl_slist* appended = curl_slist_append(headers.get(), "Expect:");
    if (appended == nullptr) throw std::bad_alloc();
    (void)headers.release();
    headers.reset(appended);
  }

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, state_->error);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L); // no SIGALRM in a threaded process
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!state_->options.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, state_->options.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); // provider APIs do not redirect; never resend a POST
  // Set every time: the handle keeps options between requests.
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, request.fresh_connection ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, state_->options.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); // whatever curl can decode
  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    if (request.method != "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  const CURLcode code = curl_easy_perform(easy);
  if (code == CURLE_OK) {
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &exchange.response.status);
    return std::move(exchange.response);
  }
  long request_bytes = 0;
  curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes);
  Failure failure;
  failure.kind = classify(code);
  failure.request_sent = failure.kind != FailureKind::connect_failed && request_bytes > 0;
  failure.message =
      std::string(request.method) + " " + request.url + ": " +
      (exchange.too_large ? "response larger than " + std::to_string(exchange.limit) + " bytes"
                          : std::string(state_->error[0] != '\0' ? state_->error : curl_easy_strerror(code)));
  return failure;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0x0F]);
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(name);
    out.push_back('=');
    out += url_encode(value);
  }
  return out;
}

std::string basic_auth(std::string_view user, std::string_view password) {
  const std::string plain = std::string(user) + ":" + std::string(password);
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                      reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  encoded.resize(static_cast<std::size_t>(written));
  return "Basic " + encoded;
}

std::chrono::seconds retry_after(const Response& response) {
  const auto value = response.header("Retry-After");
  if (!value) return std::chrono::seconds(0);
  long seconds = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
  if (ec != std::errc{} || end != value->data() + value->size() || seconds < 0) return std::chrono::seconds(0);
  return std::chrono::seconds(std::min(seconds, 86'400L));
}

} // namespace fte::outbound_http
