// Every answer of the escalation API's listener, provoked from the real
// handler and HTTP server, against EscalationApi::answers() and against
// proto/openapi.yaml (tag escalations), in both directions.
#include "escalation_api.hpp"

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <gtest/gtest.h>

#include "fte/http/testing/openapi_answers.hpp"

namespace fte::escalation {
namespace {

namespace bhttp = boost::beast::http;
using http::testing::AnswerKey;

Logger quiet() { return Logger::to_stderr("escalation-answers-test", spdlog::level::off); }

// The console counts as connected once its stream began (and as gone once
// the server saw it close).
bool eventually_connected(const desk::DeskLive& live, std::size_t expected) {
  for (int i = 0; i < 100 && live.connected() != expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return live.connected() == expected;
}

http::Response round_trip(std::uint16_t port, const std::string& raw) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(raw));
  boost::beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  boost::system::error_code ec;
  bhttp::read(socket, buffer, parser, ec);
  return parser.release();
}

const std::string kGoodToken = "fte_" + std::string(64, 'a');
const std::string kUnknownToken = "fte_" + std::string(64, 'b');
const std::string kUncheckableToken = "fte_" + std::string(64, 'c');
const std::string kSupervisorToken = "fte_" + std::string(64, 'd');

// Tokens without a database: one in force, one unknown, one whose lookup
// fails the way an outage does.
std::optional<access::Principal> authenticate(std::string_view token) {
  if (token == kUncheckableToken) throw std::runtime_error("connection refused");
  if (token == kGoodToken) return access::Principal{"ci", access::Role::agent};
  if (token == kSupervisorToken) return access::Principal{"sam", access::Role::supervisor};
  return std::nullopt;
}

std::string request(const std::string& method, const std::string& target, const std::string& body = {},
                    const std::string& token = kGoodToken, const std::string& extra_headers = {}) {
  const auto authorization = token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n";
  const auto type = body.empty() || extra_headers.find("Content-Type") != std::string::npos
                        ? std::string()
                        : std::string("Content-Type: application/json\r\n");
  return method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n" + authorization + type + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Announces a body over `limit` and sends none of it: the server answers from
// the headers, so no unread bytes turn its close into a reset.
std::string oversized(const std::string& target, std::size_t limit) {
  return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(limit + 1) + "\r\n\r\n";
}

std::string lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items)
    out += "  " + item + "\n";
  return out;
}

// The listener as main.cpp wires it, around `handler`.
class Listener {
public:
  explicit Listener(http::Handler handler, std::optional<http::StreamRoute> stream = std::nullopt)
      : server_(io_.get_executor(), options(), std::move(handler), quiet()), work_(boost::asio::make_work_guard(io_)) {
    if (stream) server_.set_stream_route(std::move(*stream));
    server_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Listener() {
    server_.stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  [[nodiscard]] std::uint16_t port() const { return server_.port(); }
  static http::ServerOptions options() { return http::ServerOptions::from_address("127.0.0.1:0", "FTE_HTTP_ADDR"); }

private:
  boost::asio::io_context io_;
  http::Server server_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST(EscalationAnswers, TheListenerGivesExactlyTheDocumentedAnswers) {
  // Nothing listens on port 1: every query fails the way an outage does.
  pg::ConnectionPool database("postgresql://fte@127.0.0.1:1/fte?connect_timeout=2", 1);
  // Nor on Kafka's: nothing is ever committed, so nothing is published.
  kafka::ProducerOptions producer_options;
  producer_options.client.bootstrap = "127.0.0.1:1";
  producer_options.client.properties["log_level"] = "0";
  kafka::Producer producer(producer_options, quiet());
  const runtime::Outbox outbox("escalation-desk", database, producer, quiet());
  const desk::DeskStore desk(database, outbox, "fte.desk.activity", desk::DeskSettings{});
  const EscalationApi api(database, authenticate, nullptr, desk, quiet());
  desk::DeskLive live("postgresql://fte@127.0.0.1:1/fte?connect_timeout=2", database, quiet());
  Listener listener(
      [&api](http::Request request) -> boost::asio::awaitable<http::Response> { co_return api.handle(request); },
      api.events_route(live));
  const auto port = listener.port();

  http::testing::Answers observed;
  const auto provoke = [&](const AnswerKey& key, const http::Response& response, const std::string& code) {
    EXPECT_EQ(response.result_int(), static_cast<unsigned>(key.status)) << key.path << ": " << response.body();
    EXPECT_NE(response.body().find("\"" + code + "\""), std::string::npos) << response.body();
    http::testing::record(observed, key, response);
  };
  const std::string path = "/api/escalations";
  provoke({path, "GET", 400}, round_trip(port, request("GET", path + "?status=bogus")), "invalid_status");
  provoke({path, "GET", 400}, round_trip(port, request("GET", path + "?limit=0")), "invalid_limit");
  provoke({path, "GET", 400}, round_trip(port, request("GET", path + "?status=%zz")), "invalid_target");
  provoke({path, "GET", 503}, round_trip(port, request("GET", path + "?status=open")), "database_unavailable");
  const auto without = round_trip(port, request("GET", path, {}, ""));
  EXPECT_EQ(without[bhttp::field::www_authenticate], "Bearer");
  provoke({path, "GET", 401}, without, "missing_token");
  const auto unknown = round_trip(port, request("GET", path, {}, kUnknownToken));
  EXPECT_EQ(unknown[bhttp::field::www_authenticate], R"(Bearer error="invalid_token")");
  provoke({path, "GET", 401}, unknown, "invalid_token");
  provoke({path, "GET", 401}, round_trip(port, request("GET", path, {}, "not-a-token")), "invalid_token");
  // A lookup that fails is a 503, never a way in.
  provoke({path, "GET", 503}, round_trip(port, request("GET", path, {}, kUncheckableToken)), "database_unavailable");
  const std::string me = "/api/me";
  const auto who = round_trip(port, request("GET", me));
  http::testing::record(observed, {me, "GET", 200}, who);
  EXPECT_EQ(who.result_int(), 200u) << who.body();
  EXPECT_NE(who.body().find(R"("via":"api_token")"), std::string::npos) << who.body();
  provoke({me, "GET", 401}, round_trip(port, request("GET", me, {}, "")), "missing_token");
  provoke({me, "GET", 401}, round_trip(port, request("GET", me, {}, kUnknownToken)), "invalid_token");
  provoke({me, "GET", 503}, round_trip(port, request("GET", me, {}, kUncheckableToken)), "database_unavailable");
  // Without FTE_OIDC_ISSUER there is no sign-in: its routes do not exist.
  provoke({"*", "*", 404}, round_trip(port, request("GET", "/auth/login")), "not_found");
  provoke({"*", "*", 404}, round_trip(port, request("GET", "/nope")), "not_found");
  const auto wrong_method = round_trip(port, request("POST", path));
  EXPECT_EQ(wrong_method[bhttp::field::allow], "GET");
  provoke({"*", "*", 405}, wrong_method, "method_not_allowed");
  provoke({"*", "*", 400}, round_trip(port, "NOT HTTP\r\n\r\n"), "malformed_http");
  provoke({"*", "*", 413}, round_trip(port, oversized(path, Listener::options().body_limit)), "body_too_large");
  {
    // internal_error is the HTTP server's own answer when a handler throws
    // (libs/http); this handler catches its database errors itself.
    Listener failing([](http::Request) -> boost::asio::awaitable<http::Response> { throw std::runtime_error("boom"); });
    provoke({"*", "*", 500}, round_trip(failing.port(), request("GET", path)), "internal_error");
  }

  // The desk's routes: what is answered before PostgreSQL is asked, and
  // the 503 when it cannot be.
  const std::string conversation = "/api/conversations/3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60";
  const std::vector<std::pair<std::string, std::string>> desk_routes = {{"GET", "/api/conversations"},
                                                                        {"GET", "/api/conversations/{id}"},
                                                                        {"POST", "/api/conversations/{id}/claim"},
                                                                        {"POST", "/api/conversations/{id}/release"},
                                                                        {"POST", "/api/conversations/{id}/assign"},
                                                                        {"POST", "/api/conversations/{id}/notes"},
                                                                        {"POST", "/api/conversations/{id}/replies"},
                                                                        {"POST", "/api/conversations/{id}/resolve"},
                                                                        {"POST", "/api/conversations/{id}/reopen"},
                                                                        {"GET", "/api/sla"},
                                                                        {"PUT", "/api/sla"}};
  const auto concrete = [&](const std::string& route, const std::string& id) {
    const auto at = route.find("{id}");
    return at == std::string::npos ? route : route.substr(0, at) + id + route.substr(at + 4);
  };
  const auto good_body = [](const std::string& route) -> std::string {
    if (route.ends_with("/assign")) return R"({"to": "bob"})";
    if (route.ends_with("/notes")) return R"({"body": "called them"})";
    if (route.ends_with("/replies")) return R"({"version": 1, "body": "Hello"})";
    if (route.ends_with("/resolve")) return R"({"article": "refund-policy"})";
    if (route == "/api/sla")
      return R"({"targets": [{"priority": "low", "first_response_minutes": 5, "resolution_minutes": 9}]})";
    return {};
  };
  for (const auto& [method, route] : desk_routes) {
    const auto target = concrete(route, "3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60");
    const auto body = method == "GET" ? std::string() : good_body(route);
    provoke({route, method, 401}, round_trip(port, request(method, target, body, "")), "missing_token");
    provoke({route, method, 401}, round_trip(port, request(method, target, body, kUnknownToken)), "invalid_token");
    provoke({route, method, 503}, round_trip(port, request(method, target, body, kUncheckableToken)),
            "database_unavailable");
    // A supervisor may do all of them; the database is down.
    provoke({route, method, 503}, round_trip(port, request(method, target, body, kSupervisorToken)),
            "database_unavailable");
    if (route.find("{id}") != std::string::npos) {
      provoke({route, method, 404},
              round_trip(port, request(method, concrete(route, "not-a-uuid"), body, kSupervisorToken)),
              "conversation_not_found");
    }
    if (!body.empty()) {
      provoke({route, method, 415},
              round_trip(port, request(method, target, body, kSupervisorToken, "Content-Type: text/plain\r\n")),
              "unsupported_media_type");
      provoke({route, method, 400}, round_trip(port, request(method, target, "{nope", kSupervisorToken)),
              "invalid_json");
      provoke({route, method, 400},
              round_trip(port, request(method, target, R"({"version": "x", "article": 5})", kSupervisorToken)),
              "invalid_field");
    }
  }
  // Supervisors only: an agent's token is refused before anything is read.
  provoke({"/api/conversations/{id}/assign", "POST", 403},
          round_trip(port, request("POST", conversation + "/assign", R"({"to": "bob"})")), "supervisor_only");
  provoke({"/api/sla", "PUT", 403}, round_trip(port, request("PUT", "/api/sla", good_body("/api/sla"))),
          "supervisor_only");
  provoke({"/api/conversations", "GET", 403}, round_trip(port, request("GET", "/api/conversations?view=all")),
          "supervisor_only");
  for (const auto& [query, code] :
       std::vector<std::pair<std::string, std::string>>{{"view=everyone", "invalid_view"},
                                                        {"channel=fax", "invalid_channel"},
                                                        {"priority=p1", "invalid_priority"},
                                                        {"breached=yes", "invalid_breached"},
                                                        {"limit=201", "invalid_limit"},
                                                        {"after=yesterday", "invalid_cursor"},
                                                        {"view=%zz", "invalid_target"}}) {
    provoke({"/api/conversations", "GET", 400}, round_trip(port, request("GET", "/api/conversations?" + query)), code);
  }
  provoke({"/api/conversations/{id}/replies", "POST", 400},
          round_trip(port, request("POST", conversation + "/replies", R"({"version": 1, "body": "Hello"})", kGoodToken,
                                   "Idempotency-Key: " + std::string(256, 'k') + "\r\n")),
          "invalid_idempotency_key");
  {
    const auto wrong = round_trip(port, request("DELETE", "/api/sla"));
    EXPECT_EQ(wrong[bhttp::field::allow], "GET, PUT");
    provoke({"*", "*", 405}, wrong, "method_not_allowed");
    EXPECT_EQ(round_trip(port, request("GET", conversation + "/claim"))[bhttp::field::allow], "POST");
    provoke({"*", "*", 404}, round_trip(port, request("POST", conversation + "/delete")), "not_found");
  }

  // The console's files: open to anyone, under a strict policy.
  for (const auto& file : {"/desk", "/desk/app.js", "/desk/app.css"}) {
    const auto response = round_trip(port, request("GET", file, {}, ""));
    EXPECT_EQ(response.result_int(), 200u) << file;
    EXPECT_NE(response["Content-Security-Policy"].find("default-src 'none'"), std::string::npos);
    EXPECT_NE(response["Content-Security-Policy"].find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(response["X-Content-Type-Options"], "nosniff");
    EXPECT_FALSE(response.body().empty()) << file;
    http::testing::record(observed, {file, "GET", 200}, response);
  }
  EXPECT_NE(round_trip(port, request("GET", "/desk", {}, "")).body().find("/desk/app.js"), std::string::npos);

  // The live updates: a stream for a caller, the usual refusals otherwise.
  const std::string events = "/api/events";
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(socket, boost::asio::buffer(request("GET", events)));
    boost::beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    bhttp::read_header(socket, buffer, parser);
    const auto& head = parser.get();
    EXPECT_EQ(head.result_int(), 200u);
    EXPECT_EQ(head[bhttp::field::content_type], "text/event-stream; charset=utf-8");
    EXPECT_EQ(head[bhttp::field::cache_control], "no-store");
    // What the header read took beyond the head is the start of the stream.
    std::string stream = boost::beast::buffers_to_string(buffer.data());
    while (stream.find("event: ready") == std::string::npos && stream.size() < 4096) {
      std::array<char, 512> more{};
      stream.append(more.data(), socket.read_some(boost::asio::buffer(more)));
    }
    EXPECT_NE(stream.find("event: ready"), std::string::npos) << stream;
    http::Response seen{head.result(), 11};
    seen.set(bhttp::field::content_type, head[bhttp::field::content_type]);
    http::testing::record(observed, {events, "GET", 200}, seen);
    EXPECT_TRUE(eventually_connected(live, 1));
  }
  provoke({events, "GET", 401}, round_trip(port, request("GET", events, {}, "")), "missing_token");
  provoke({events, "GET", 401}, round_trip(port, request("GET", events, {}, kUnknownToken)), "invalid_token");
  provoke({events, "GET", 503}, round_trip(port, request("GET", events, {}, kUncheckableToken)),
          "database_unavailable");
  provoke({events, "GET", 400}, round_trip(port, request("GET", events + "?conversation=nope")),
          "invalid_conversation");
  provoke({events, "GET", 400}, round_trip(port, request("GET", events + "?conversation=%zz")), "invalid_target");
  EXPECT_EQ(round_trip(port, request("POST", events))[bhttp::field::allow], "GET");

  auto table = http::testing::table_answers(EscalationApi::answers());
  // A 200 needs PostgreSQL: tests/e2e (WebformFlow.RefundRequestGetsAnEscalationRow)
  // lists escalations through this API against the real database.
  auto without_success = table;
  without_success.erase({path, "GET", 200});
  // Signing in needs an identity provider and PostgreSQL:
  // tests/integration/desk_sign_in_test.py provokes the /auth answers and
  // session_expired against the real Keycloak of the local stack.
  for (auto it = without_success.begin(); it != without_success.end();) {
    it = it->first.path.starts_with("/auth/") ? without_success.erase(it) : std::next(it);
  }
  without_success[{path, "GET", 401}].codes.erase("session_expired");
  without_success[{me, "GET", 401}].codes.erase("session_expired");
  // What needs stored conversations (or a session) is provoked against the
  // real database by tests/integration/desk_test.cpp and, for sessions and
  // CSRF, tests/integration/desk_sign_in_test.py.
  for (auto it = without_success.begin(); it != without_success.end();) {
    auto& [key, facts] = *it;
    if (key.path == "/api/events") facts.codes.erase("session_expired");
    if (key.path.starts_with("/api/conversations") || key.path == "/api/sla") {
      facts.codes.erase("session_expired");
      facts.codes.erase("csrf_failed");
      facts.codes.erase("not_owner");
      const bool needs_rows =
          key.status < 300 || key.status == 409 || key.status == 422 || (key.status == 403 && facts.codes.empty());
      if (needs_rows) {
        it = without_success.erase(it);
        continue;
      }
    }
    ++it;
  }
  const auto behaviour =
      http::testing::differences(without_success, "EscalationApi::answers()", observed, "the escalation API");
  EXPECT_TRUE(behaviour.empty()) << lines(behaviour);
  const auto documented = http::testing::documented_answers(http::testing::load_openapi(), "escalations");
  const auto document = http::testing::differences(documented, "proto/openapi.yaml", table, "EscalationApi::answers()");
  EXPECT_TRUE(document.empty()) << lines(document);
}

} // namespace
} // namespace fte::escalation
