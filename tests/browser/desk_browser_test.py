"""The desk's console in a real browser (issue 16): Playwright drives Debian's
headless Chromium against the four services, the local stack's Keycloak and
the fake Twilio. Two people sign in through Keycloak's own login page; an
escalation appears without a reload; one claims it, the other's claim is
refused naming the owner; the reply goes out once at the Twilio API (a
double-click included); resolve; the customer writes again and the
conversation reopens while the agent stays silent; outside WhatsApp's
24-hour window free text is refused and a template goes out; after sign-out
the data routes answer 401. Screenshots of the queue and a conversation go
to FTE_SCREENSHOT_DIR when it is set (docs/ keeps the last ones)."""

import json
import os
import re
import time
import unittest

from playwright.sync_api import expect, sync_playwright

from channels import ChannelTestCase, nonce, random_phone

ISSUER = os.environ.get("FTE_OIDC_ISSUER", "")
CHROMIUM = os.environ.get("FTE_CHROMIUM", "/usr/bin/chromium")
TEMPLATE_SID = "HX" + "0123456789abcdef" * 2
TEMPLATES = [{"name": "follow_up", "content_sid": TEMPLATE_SID,
              "text": "Hello {{1}}, we have news about your request. Reply to this message to continue."}]
# Without these Chromium keeps trying to reach Google and is refused by the
# closed network here (see .library/env).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class DeskInTheBrowser(ChannelTestCase):
    prefix = "browser-desk"
    watch_gmail = False
    extra_env = {"FTE_DESK_WHATSAPP_TEMPLATES": json.dumps(TEMPLATES)}

    @classmethod
    def setUpClass(cls):
        if not ISSUER:
            raise AssertionError("FTE_OIDC_ISSUER is not set: run through `deploy/local/fte-local test`, "
                                 "which starts Keycloak")
        super().setUpClass()
        cls.desk = "http://127.0.0.1:%d" % cls.stack.suite.escalation_port
        cls.playwright = sync_playwright().start()
        cls.addClassCleanup(cls.playwright.stop)
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        cls.addClassCleanup(cls.browser.close)

    def person(self, username, password):
        """A browser context of its own (cookies, storage) signed in through
        Keycloak's login page, on the desk."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 860})
        self.addCleanup(context.close)
        page = context.new_page()
        page.set_default_timeout(30_000)
        # Waits go through locators: the console's CSP (no eval) refuses
        # the string predicates wait_for_function would evaluate.
        expect.set_options(timeout=30_000)
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        self.addCleanup(lambda: self.assertEqual(errors, [], "script errors in %s's console" % username))
        page.goto(self.desk + "/desk")
        page.wait_for_url(lambda url: url.startswith(ISSUER), timeout=30_000)
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("#kc-login")
        page.wait_for_url(self.desk + "/desk**")
        expect(page.locator("#who")).not_to_be_empty()
        page.wait_for_selector("#live.on")
        return page

    def customer_writes(self, phone, body, name):
        params, answers = self.stack.whatsapp(phone, body, profile_name=name)
        for answer in answers:
            self.assertEqual(answer.status, 200, answer.body)
        return params

    def screenshot(self, page, name):
        directory = os.environ.get("FTE_SCREENSHOT_DIR")
        if directory:
            os.makedirs(directory, exist_ok=True)
            page.screenshot(path=os.path.join(directory, name))

    def test_two_people_one_owner_one_reply_reopen_window_and_sign_out(self):
        alice = self.person("alice", "alice-local")
        bob = self.person("bob", "bob-local")
        alice.click("#views button[data-view=unassigned]")

        # An escalation appears live: no reload from here on.
        phone, name = random_phone(), "Grace Hopper " + nonce()
        self.customer_writes(phone, "I was charged twice this month and want a refund for the second charge.", name)
        row = alice.locator("#conversations li", has_text=name)
        row.wait_for(timeout=60_000)
        self.screenshot(alice, "desk-queue.png")
        row.click()
        alice.wait_for_selector("#conversation:not([hidden])")
        conversation = alice.evaluate("location.hash.slice(1)")
        self.assertEqual(len(conversation), 36, conversation)

        # Bob opens it too: each sees the other (presence).
        bob.goto(self.desk + "/desk#" + conversation)
        bob.wait_for_selector("#conversation:not([hidden])")
        expect(alice.locator("#presence")).to_contain_text("bob")

        # Alice claims; Bob's claim is refused and names her.
        alice.click("#claim")
        expect(alice.locator("#state")).to_contain_text("owner alice")
        expect(bob.locator("#state")).to_contain_text("owner alice")
        bob.click("#claim")
        expect(bob.locator("#notice")).to_contain_text("alice owns this conversation")
        self.assertIn("alice", bob.text_content("#notice"))

        # One reply, even double-clicked.
        alice.fill("#reply-body", "Hello, this is Alice from support: the second charge is refunded.")
        alice.dblclick("#send")
        sent = self.wait_for(lambda: self.stack.twilio_sent_to(phone), 60, "the reply at the Twilio API")
        expect(alice.locator("#state")).to_have_text(re.compile("^waiting"))
        time.sleep(2)  # a second message would have been claimed and sent by now
        sent = self.stack.twilio_sent_to(phone)
        self.assertEqual(len(sent), 1, sent)
        self.assertIn("the second charge is refunded", sent[0]["body"])
        alice.wait_for_selector("#timeline li.outbound")
        self.screenshot(alice, "desk-conversation.png")

        # Resolve; the customer writes again: it reopens and the agent stays silent.
        alice.fill("#resolve-article", "")
        alice.click("#resolve")
        expect(alice.locator("#state")).to_have_text(re.compile("^resolved"))
        self.customer_writes(phone, "Thanks! And how do I reset my password?", name)
        expect(alice.locator("#state")).to_have_text(re.compile("^assigned"), timeout=60_000)
        self.assertIn("owner alice", alice.text_content("#state"))
        time.sleep(2)
        self.assertEqual(len(self.stack.twilio_sent_to(phone)), 1, "the agent answered a customer a person owns")
        self.assertEqual(self.stack.db.count(
            "SELECT count(*) FROM messages m JOIN customer_identifiers ci ON ci.customer_id = m.customer_id "
            "WHERE ci.value = :'p' AND m.direction = 'outbound' AND m.author IS NULL", p=phone), 0)

        # Outside the 24-hour window: free text is refused, a template goes out.
        self.stack.db.value(
            "UPDATE messages m SET created_at = now() - interval '25 hours' FROM customer_identifiers ci "
            "WHERE ci.customer_id = m.customer_id AND ci.value = :'p' AND m.direction = 'inbound' RETURNING 1", p=phone)
        alice.reload()
        alice.wait_for_selector("#conversation:not([hidden])")
        expect(alice.locator("#window")).to_contain_text("closed")
        alice.select_option("#reply-template", "")
        alice.fill("#reply-body", "Are you still there?")
        alice.click("#send")
        expect(alice.locator("#notice")).to_contain_text("24 hours")
        alice.select_option("#reply-template", "follow_up")
        alice.fill("#template-variables input[name='1']", "Grace")
        alice.click("#send")
        with_template = self.wait_for(
            lambda: [m for m in self.stack.twilio_sent_to(phone) if m.get("content_sid") == TEMPLATE_SID], 60,
            "the template at the Twilio API")
        self.assertEqual(with_template[0]["content_variables"], {"1": "Grace"})
        self.assertEqual(len(self.stack.twilio_sent_to(phone)), 2)

        # Signed out, the data routes answer 401 to this browser.
        before = alice.context.request.get(self.desk + "/api/conversations/" + conversation)
        self.assertEqual(before.status, 200)
        alice.click("#signout")
        alice.wait_for_url(lambda url: not url.startswith(self.desk + "/desk"), timeout=30_000)
        # The context's own cookies, as the page would send them.
        for path in ("/api/conversations", "/api/conversations/" + conversation, "/api/escalations", "/api/events"):
            answer = alice.context.request.get(self.desk + path)
            self.assertEqual(answer.status, 401, path)
            self.assertNotIn(name, answer.text(), path)

    def test_the_console_is_served_with_a_strict_policy(self):
        page = self.browser.new_page()
        self.addCleanup(page.close)
        headers = page.goto(self.desk + "/desk").headers
        self.assertIn("default-src 'none'", headers["content-security-policy"])
        self.assertIn("frame-ancestors 'none'", headers["content-security-policy"])
        self.assertEqual(headers["x-content-type-options"], "nosniff")


if __name__ == "__main__":
    unittest.main()
