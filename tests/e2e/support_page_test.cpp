// The support page as visitors get it: Debian's headless Chromium loads
// GET /support from the gateway, types into the form and clicks Send, with the
// page's script enabled and disabled, over a secure origin (http://localhost)
// and an insecure one (a host name other than localhost, where
// crypto.randomUUID does not exist). Each time the ticket must exist in
// PostgreSQL, the visitor must see the outcome, and no request the browser
// made may carry the form's fields in a query string.
//
// The browser is driven by support_page_browser.py (DevTools protocol over a
// pipe, standard library only); this test judges what it reports.
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "fte/common/ids.hpp"
#include "fte/testing/command.hpp"
#include "fte/testing/shared_suite.hpp"
#include "fte/testing/suite.hpp"

namespace fte::testing {
namespace {

using namespace std::chrono_literals;

// A name that is not localhost, resolved to the gateway's loopback address
// inside the browser only (--host-resolver-rules): to Chromium it is plain
// HTTP from an ordinary host, so not a secure context. (127.0.0.2 would not
// do: every 127/8 address counts as potentially trustworthy.)
constexpr const char* kInsecureHost = "support.test";

struct CommandResult {
  int exit_status = -1;
  std::string out;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (const auto n = std::fread(buffer.data(), 1, buffer.size(), pipe.get())) {
    result.out.append(buffer.data(), n);
  }
  result.exit_status = ::pclose(pipe.release());
  return result;
}

class SupportPageInBrowser : public SharedSuiteTest<SupportPageInBrowser> {
protected:
  void SetUp() override {
    // What the test needs beyond the stack; missing means failed, never skipped.
    for (const char* tool : {"/usr/bin/python3", "/usr/bin/chromium", FTE_SUPPORT_PAGE_DRIVER}) {
      if (!std::filesystem::exists(tool)) {
        FAIL() << tool << " is missing (deploy/local/fte-local installs chromium and python3)";
      }
    }
    SharedSuiteTest::SetUp();
  }

  struct Visit {
    nlohmann::json report;
    std::string name, email, subject, message;
  };

  // One visitor: opens the page at `host`, fills the form in, sends it.
  static Visit visit(const std::string& host, bool script) {
    Visit v;
    const auto tag = random_uuid().substr(0, 8);
    v.name = "Visitor " + tag;
    v.email = "browser-" + tag + "@example.com";
    v.subject = "Cannot log in (" + tag + ")";
    v.message = "Since this morning the login page says my password is wrong & I'm locked out. " + tag;
    const auto origin = "http://" + host + ":" + std::to_string(suite->gateway_port());
    const auto screenshot = (std::filesystem::temp_directory_path() /
                             ("fte-support-page-" + host + (script ? "-script" : "-noscript") + ".png"))
                                .string();
    const std::string command = std::string("/usr/bin/python3 ") + FTE_SUPPORT_PAGE_DRIVER + " --url " +
                                shell_quote(origin + "/support") + " --map-host " +
                                shell_quote(std::string(kInsecureHost) + "=127.0.0.1") + " --script " +
                                (script ? "on" : "off") + " --name " + shell_quote(v.name) + " --email " +
                                shell_quote(v.email) + " --subject " + shell_quote(v.subject) + " --message " +
                                shell_quote(v.message) + " --screenshot " + shell_quote(screenshot) + " 2>&1";
    const auto result = run(command);
    v.report = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_EQ(result.exit_status, 0) << command << "\n" << result.out;
    EXPECT_TRUE(v.report.is_object()) << result.out;
    if (!v.report.is_object()) v.report = nlohmann::json::object();
    return v;
  }

  // Everything a visit must show, whatever the origin and script.
  static void expect_ticket_and_no_query_string(const Visit& v, const std::string& host, bool script) {
    const auto& r = v.report;
    ASSERT_FALSE(r.contains("error")) << r.dump(1);
    const auto origin = "http://" + host + ":" + std::to_string(suite->gateway_port());

    // Not one request carried a query string: not the page, not the post, not a fallback GET.
    EXPECT_TRUE(r.value("urls_with_query", nlohmann::json::array()).empty()) << r.dump(1);
    const auto final_url = r.value("final_url", std::string());
    EXPECT_EQ(final_url.find('?'), std::string::npos) << final_url;

    // Exactly one submission, a form-encoded POST to the webhook.
    int posts = 0;
    for (const auto& request : r.value("requests", nlohmann::json::array())) {
      const auto url = request.value("url", std::string());
      EXPECT_EQ(url.find("browser-"), std::string::npos) << "the email is in a URL: " << url;
      if (url != origin + "/webhooks/webform") continue;
      ++posts;
      EXPECT_EQ(request.value("method", std::string()), "POST");
      EXPECT_EQ(request.value("content_type", std::string()).rfind("application/x-www-form-urlencoded", 0), 0U)
          << request.dump();
      EXPECT_NE(request.value("post_data", std::string()).find("browser-"), std::string::npos) << request.dump();
      if (script) {
        EXPECT_EQ(request.value("type", std::string()), "Fetch");
        EXPECT_TRUE(is_uuid(request.value("idempotency_key", std::string()))) << request.dump();
      } else {
        EXPECT_EQ(request.value("type", std::string()), "Document");
      }
    }
    EXPECT_EQ(posts, 1) << r.dump(1);
    EXPECT_EQ(final_url, script ? origin + "/support" : origin + "/webhooks/webform");

    // The visitor saw the outcome, with the reference: the event id.
    EXPECT_TRUE(r.value("outcome_ok", false)) << r.value("outcome_html", std::string());
    const auto reference = r.value("reference", std::string());
    ASSERT_TRUE(is_uuid(reference)) << r.dump(1);

    // And the ticket exists: the inbound message under that reference, with
    // what was typed, on a ticket of the customer with that email.
    pqxx::connection connection(suite->database_url());
    const bool stored = eventually(
        [&] {
          pqxx::read_transaction tx(connection);
          return tx.exec_params1("SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id "
                                 "JOIN customer_identifiers ci ON ci.customer_id = t.customer_id "
                                 "WHERE m.correlation_id = $1 AND m.direction = 'inbound' AND m.channel = 'webform' "
                                 "AND m.body = $2 AND ci.kind = 'email' AND ci.value = $3",
                                 reference, v.message, v.email)[0]
                     .as<int>() == 1;
        },
        60s);
    EXPECT_TRUE(stored) << "no ticket for reference " << reference << "\n" << suite->logs();
  }
};

TEST_F(SupportPageInBrowser, SecureOriginWithScript) {
  const auto v = visit("localhost", true);
  EXPECT_EQ(v.report.value("secure_context", false), true);
  EXPECT_EQ(v.report.value("random_uuid", std::string()), "function");
  expect_ticket_and_no_query_string(v, "localhost", true);
}

TEST_F(SupportPageInBrowser, SecureOriginWithoutScript) {
  const auto v = visit("localhost", false);
  expect_ticket_and_no_query_string(v, "localhost", false);
}

TEST_F(SupportPageInBrowser, InsecureOriginWithScriptFallsBackToGetRandomValues) {
  const auto v = visit(kInsecureHost, true);
  // The case the page used to fail: no crypto.randomUUID here.
  EXPECT_EQ(v.report.value("secure_context", true), false);
  EXPECT_EQ(v.report.value("random_uuid", std::string()), "undefined");
  EXPECT_TRUE(v.report.value("exceptions", nlohmann::json::array()).empty()) << v.report.dump(1);
  expect_ticket_and_no_query_string(v, kInsecureHost, true);
}

TEST_F(SupportPageInBrowser, InsecureOriginWithoutScript) {
  const auto v = visit(kInsecureHost, false);
  EXPECT_EQ(v.report.value("secure_context", true), false);
  expect_ticket_and_no_query_string(v, kInsecureHost, false);
}

} // namespace
} // namespace fte::testing
