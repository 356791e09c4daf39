"""People sign in to the escalation desk through the real Keycloak of the
local stack (deploy/local/keycloak/fte-realm.json; ADR 0020): the
authorization code flow with PKCE driven as a browser does it, hop by hop
(Keycloak's own login form, posted with the demo users' passwords), then the
session cookie against the API, CSRF on sign-out, idle expiry, and every
refusal of /auth/*. Nothing here mints a token or fakes the provider."""

import json
import os
import unittest
import urllib.parse

import desk_session
import fte_stack
from desk_session import Browser, LoginForm

ISSUER = os.environ.get("FTE_OIDC_ISSUER", "")
SECRET = os.environ.get("FTE_OIDC_CLIENT_SECRET", "")


class DeskSignIn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not ISSUER or not SECRET:
            raise fte_stack.StackUnavailable(
                "FTE_OIDC_ISSUER and FTE_OIDC_CLIENT_SECRET are not set: run through `deploy/local/fte-local test`, "
                "which starts Keycloak")
        discovery = Browser().request(ISSUER + "/.well-known/openid-configuration")
        if discovery.status != 200:
            raise fte_stack.StackUnavailable("Keycloak does not answer at %s: %r" % (ISSUER, discovery))
        cls.suite = fte_stack.Suite(services=["escalation"], prefix="it-desk")
        cls.addClassCleanup(cls.suite.close)
        cls.desk = "http://127.0.0.1:%d" % cls.suite.escalation_port

    def sign_in(self, username, password, return_to="/"):
        """Returns the browser, the callback's answer and its URL."""
        return desk_session.sign_in(self.desk, ISSUER, username, password, return_to)

    def me(self, browser):
        return browser.request(self.desk + "/api/me")

    def test_an_agent_signs_in_reads_the_queue_and_signs_out_with_the_csrf_token(self):
        browser, callback, _ = self.sign_in("alice", "alice-local", return_to="/queue?mine=1")
        self.assertEqual(callback.status, 303, callback)
        self.assertEqual(callback.headers["location"], "/queue?mine=1")
        cookie = callback.headers["set-cookie"]
        for attribute in ("fte_session=", "HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(attribute, cookie)
        self.assertNotIn("Secure", cookie, "plain http on loopback: a Secure cookie would never come back")

        me = self.me(browser)
        self.assertEqual(me.status, 200, me)
        who = me.json()
        self.assertEqual((who["name"], who["role"], who["via"]), ("alice", "agent", "session"))
        self.assertEqual(who["email"], "alice@desk.example.com")
        self.assertEqual(who["display_name"], "Alice Agent")
        self.assertEqual(browser.request(self.desk + "/api/escalations?status=open").status, 200)

        # A sign-out needs the session's CSRF token, and this site's Origin.
        logout = self.desk + "/auth/logout"
        refused = browser.request(logout, "POST")
        self.assertEqual((refused.status, refused.json()["error"]["code"]), (403, "csrf_failed"), refused)
        cross_site = browser.request(logout, "POST", headers={"X-CSRF-Token": who["csrf_token"],
                                                              "Origin": "https://evil.example"})
        self.assertEqual(cross_site.status, 403, cross_site)
        self.assertEqual(self.me(browser).status, 200, "a refused sign-out leaves the session")
        out = browser.request(logout, "POST", headers={"X-CSRF-Token": who["csrf_token"], "Origin": self.desk})
        self.assertEqual(out.status, 200, out)
        self.assertTrue(out.json()["identity_provider_logout"].startswith(ISSUER + "/protocol/openid-connect/logout"))
        self.assertIn("Max-Age=0", out.headers["set-cookie"])

        # The old cookie is worth nothing now.
        stale = fte_stack.http_request(self.suite.escalation_port, "GET", "/api/escalations",
                                       headers={"Cookie": cookie.split(";")[0]})
        self.assertEqual((stale.status, stale.json()["error"]["code"]), (401, "session_expired"), stale)
        self.assertNotIn("escalations\":", stale.body)

    def test_desk_changes_need_the_csrf_token_and_supervisor_routes_refuse_an_agent(self):
        browser, callback, _ = self.sign_in("bob", "bob-local")
        self.assertEqual(callback.status, 303, callback)
        callback_cookie = callback.headers["set-cookie"]
        csrf = self.me(browser).json()["csrf_token"]
        claim = self.desk + "/api/conversations/3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60/claim"
        for headers in ({}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
                        {"X-CSRF-Token": "0" * 64, "Origin": self.desk}):
            refused = browser.request(claim, "POST", headers=headers)
            self.assertEqual((refused.status, refused.json()["error"]["code"]), (403, "csrf_failed"), refused)
        # With its token the change reaches the desk (no such conversation here).
        passed = browser.request(claim, "POST", headers={"X-CSRF-Token": csrf, "Origin": self.desk})
        self.assertEqual((passed.status, passed.json()["error"]["code"]), (404, "conversation_not_found"), passed)
        sla = json.dumps({"targets": [{"priority": "low", "first_response_minutes": 1, "resolution_minutes": 2}]})
        for method, path, body in (("PUT", "/api/sla", sla), ("GET", "/api/conversations?view=all", ""),
                                   ("POST", "/api/conversations/3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60/assign",
                                    json.dumps({"to": "alice"}))):
            refused = browser.request(self.desk + path, method, body,
                                      {"X-CSRF-Token": csrf, "Origin": self.desk, "Content-Type": "application/json"})
            self.assertEqual((refused.status, refused.json()["error"]["code"]), (403, "supervisor_only"), refused)
        self.assertEqual(browser.request(self.desk + "/api/conversations").status, 200)
        supervisor, callback, _ = self.sign_in("sam", "sam-local")
        self.assertEqual(supervisor.request(self.desk + "/api/conversations?view=all").status, 200)
        self.assertEqual(supervisor.request(self.desk + "/api/sla").json()["targets"][0]["priority"], "urgent")
        # After sign-out every desk route answers 401 session_expired.
        out = browser.request(self.desk + "/auth/logout", "POST", headers={"X-CSRF-Token": csrf, "Origin": self.desk})
        self.assertEqual(out.status, 200, out)
        cookie = callback_cookie.split(";")[0]
        for path in ("/api/conversations", "/api/sla", "/api/conversations/3e0f6c1a-9b2d-4c8e-a7f5-1d2b3c4e5f60"):
            gone = fte_stack.http_request(self.suite.escalation_port, "GET", path, headers={"Cookie": cookie})
            self.assertEqual((gone.status, gone.json()["error"]["code"]), (401, "session_expired"), gone)

    def test_a_supervisor_gets_the_supervisor_role(self):
        browser, callback, _ = self.sign_in("sam", "sam-local")
        self.assertEqual(callback.status, 303, callback)
        self.assertEqual(self.me(browser).json()["role"], "supervisor")

    def test_a_person_in_none_of_the_desks_groups_is_refused(self):
        browser, callback, _ = self.sign_in("nora", "nora-local")
        self.assertEqual((callback.status, callback.json()["error"]["code"]), (403, "no_desk_role"), callback)
        self.assertNotIn("fte_session", callback.headers.get("set-cookie", ""))
        self.assertEqual(self.me(browser).status, 401)

    def test_a_sign_in_is_used_once(self):
        browser, callback, back = self.sign_in("bob", "bob-local")
        self.assertEqual(callback.status, 303, callback)
        again = Browser().request(back)
        self.assertEqual((again.status, again.json()["error"]["code"]), (400, "invalid_sign_in"), again)

    def test_an_idle_session_expires(self):
        browser, callback, _ = self.sign_in("alice", "alice-local")
        self.assertEqual(self.me(browser).status, 200)
        session = self.me(browser).json()
        self.suite.database.rows("UPDATE desk_sessions SET last_seen_at = clock_timestamp() - interval '31 minutes' "
                                 "WHERE csrf_token = :'csrf'", csrf=session["csrf_token"])
        expired = self.me(browser)
        self.assertEqual((expired.status, expired.json()["error"]["code"]), (401, "session_expired"), expired)
        self.assertEqual(expired.headers["www-authenticate"], "Bearer")

    def test_refusals_of_the_sign_in_routes(self):
        bad_return = Browser().request(self.desk + "/auth/login?return_to=" + urllib.parse.quote("//evil.example/x"))
        self.assertEqual((bad_return.status, bad_return.json()["error"]["code"]), (400, "invalid_return_to"))
        unknown = Browser().request(self.desk + "/auth/callback?state=nobody-started-this&code=x")
        self.assertEqual((unknown.status, unknown.json()["error"]["code"]), (400, "invalid_sign_in"), unknown)
        no_state = Browser().request(self.desk + "/auth/callback?code=x")
        self.assertEqual(no_state.status, 400, no_state)
        # The provider's own refusal (the person pressed "cancel"): the
        # state is taken, the error named.
        browser = Browser()
        start = browser.request(self.desk + "/auth/login")
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(start.headers["location"]).query)["state"][0]
        denied = browser.request(self.desk + "/auth/callback?error=access_denied&error_description=cancelled&state="
                                 + urllib.parse.quote(state))
        self.assertEqual((denied.status, denied.json()["error"]["code"]), (400, "sign_in_refused"), denied)
        self.assertIn("access_denied", denied.json()["error"]["message"])
        # A forged code with a real state: Keycloak refuses the exchange.
        start = browser.request(self.desk + "/auth/login")
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(start.headers["location"]).query)["state"][0]
        forged = browser.request(self.desk + "/auth/callback?code=forged&state=" + urllib.parse.quote(state))
        self.assertEqual((forged.status, forged.json()["error"]["code"]), (502, "identity_provider_failed"), forged)
        self.assertEqual(Browser().request(self.desk + "/auth/logout", "GET").status, 405)
        anonymous = Browser().request(self.desk + "/auth/logout", "POST")
        self.assertEqual((anonymous.status, anonymous.json()["error"]["code"]), (401, "missing_token"))


class DeskSignInWithoutItsProvider(unittest.TestCase):
    """An escalation service whose provider cannot be reached, or refuses its
    secret: sign-in fails with the reason and lets nobody in."""

    def test_an_unreachable_provider_is_503_and_a_wrong_secret_is_502(self):
        if not ISSUER:
            raise fte_stack.StackUnavailable("FTE_OIDC_ISSUER is not set: run through `deploy/local/fte-local test`")
        closed = "http://127.0.0.1:%d/realms/fte" % fte_stack.free_port()
        suite = fte_stack.Suite(services=["escalation"], prefix="it-desk-down", extra_env={"FTE_OIDC_ISSUER": closed})
        self.addCleanup(suite.close)
        down = fte_stack.http_request(suite.escalation_port, "GET", "/auth/login")
        self.assertEqual((down.status, json.loads(down.body)["error"]["code"]), (503, "identity_provider_unavailable"))

        wrong = fte_stack.Suite(services=["escalation"], prefix="it-desk-secret",
                                extra_env={"FTE_OIDC_CLIENT_SECRET": "not-the-secret"})
        self.addCleanup(wrong.close)
        desk = "http://127.0.0.1:%d" % wrong.escalation_port
        browser = Browser()
        start = browser.request(desk + "/auth/login")
        page = browser.request(start.headers["location"])
        form = LoginForm()
        form.feed(page.body)
        posted = browser.request(form.action, "POST",
                                 urllib.parse.urlencode({"username": "alice", "password": "alice-local"}),
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        callback = browser.request(posted.headers["location"])
        self.assertEqual((callback.status, callback.json()["error"]["code"]), (502, "identity_provider_failed"),
                         callback)
        self.assertIn("unauthorized_client", callback.json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()
