"""Webhook authentication: badly signed Twilio requests and bad Pub/Sub push
tokens are refused (403 / 401) and publish nothing — checked on the topics'
end offsets, which only the gateway moves. Signatures are made with Twilio's
own helper library and tokens by tests/fakes (PyJWT), never with fte's code."""

import base64
import json
import unittest

import google_tokens
import twilio_webhook
from channels import GMAIL_WEBHOOK, PUBLIC_BASE_URL, STATUS_WEBHOOK, WHATSAPP_WEBHOOK, ChannelTestCase, nonce, \
    random_phone

PREVIOUS_TOKEN = "9" * 32  # FTE_TWILIO_AUTH_TOKEN_PREVIOUS: still accepted while the token rotates


class TwilioSignatures(ChannelTestCase):
    prefix = "e2e-twilio-sig"
    watch_gmail = False
    extra_env = {"FTE_TWILIO_AUTH_TOKEN_PREVIOUS": PREVIOUS_TOKEN}

    def setUp(self):
        super().setUp()
        # Replies' status callbacks would move the inbound topic's offsets.
        self.stack.twilio_callbacks(enabled=False)

    def params(self, **extra):
        return twilio_webhook.inbound_message_params(self.stack.twilio.account_sid, random_phone(),
                                                     self.stack.twilio.whatsapp_number,
                                                     "How do I reset my password? %s" % nonce(), extra=extra)

    def sign(self, url, params, token=None):
        return twilio_webhook.sign(token or self.stack.twilio.auth_token, url, params)

    def assertRefused(self, answer, what, status=403, code="invalid_signature"):
        self.assertEqual(answer.status, status, "%s: %s" % (what, answer.body))
        self.assertEqual(json.loads(answer.body)["error"]["code"], code, what)

    def test_bad_signatures_are_403_and_publish_nothing(self):
        before = self.stack.suite.end_offsets("whatsapp_inbound")
        params = self.params()
        good = self.sign(WHATSAPP_WEBHOOK, params)
        local_url = "http://127.0.0.1:%d/webhooks/twilio/whatsapp" % self.stack.suite.gateway_port
        tampered = dict(params, Body=params["Body"] + " and refund me")
        added = dict(params, ExtraField="x")
        cases = {
            "unsigned": (WHATSAPP_WEBHOOK, params, None),
            "empty signature": (WHATSAPP_WEBHOOK, params, ""),
            "garbage signature": (WHATSAPP_WEBHOOK, params, "not-base64!"),
            "signed with another token": (WHATSAPP_WEBHOOK, params, self.sign(WHATSAPP_WEBHOOK, params, "0" * 32)),
            "tampered parameter": (WHATSAPP_WEBHOOK, tampered, good),
            "parameter added": (WHATSAPP_WEBHOOK, added, good),
            "parameter removed": (WHATSAPP_WEBHOOK, {k: v for k, v in params.items() if k != "ProfileName"}, good),
            "signed for the local URL (not the public one)": (WHATSAPP_WEBHOOK, params, self.sign(local_url, params)),
            "signed for another host": (WHATSAPP_WEBHOOK, params,
                                        self.sign("https://attacker.example.net/webhooks/twilio/whatsapp", params)),
            "signed for http instead of https": (WHATSAPP_WEBHOOK, params,
                                                 self.sign(WHATSAPP_WEBHOOK.replace("https:", "http:"), params)),
            "signed for the status route": (WHATSAPP_WEBHOOK, params, self.sign(STATUS_WEBHOOK, params)),
        }
        for what, (url, sent, signature) in cases.items():
            self.assertRefused(self.stack.post_twilio(url, sent, signature), what)
        status_params = twilio_webhook.status_callback_params(
            {"sid": "SM" + "a" * 32, "account_sid": self.stack.twilio.account_sid, "from": "whatsapp:+14155238886",
             "to": "whatsapp:" + random_phone()}, "delivered")
        self.assertRefused(self.stack.post_twilio(STATUS_WEBHOOK, status_params, None), "unsigned status callback")
        self.assertRefused(self.stack.post_twilio(STATUS_WEBHOOK, dict(status_params, MessageStatus="read"),
                                                  self.sign(STATUS_WEBHOOK, status_params)), "tampered status")
        self.assertEqual(self.stack.suite.end_offsets("whatsapp_inbound"), before, "nothing may be published")

        # The same request correctly signed is taken: the refusals above were for the signature.
        answer = self.stack.post_twilio(WHATSAPP_WEBHOOK, params, good)
        self.assertEqual(answer.status, 200, answer.body)
        self.assertEqual(self.stack.suite.records_on("whatsapp_inbound") - sum(before.values()), 1)

    def test_default_port_form_and_previous_token_are_accepted(self):
        before = self.stack.suite.records_on("whatsapp_inbound")
        params = self.params()
        with_port = PUBLIC_BASE_URL + ":443/webhooks/twilio/whatsapp"
        self.assertEqual(self.stack.post_twilio(WHATSAPP_WEBHOOK, params, self.sign(with_port, params)).status, 200)
        params = self.params()
        self.assertEqual(self.stack.post_twilio(WHATSAPP_WEBHOOK, params,
                                                self.sign(WHATSAPP_WEBHOOK, params, PREVIOUS_TOKEN)).status, 200)
        status_params = twilio_webhook.status_callback_params(
            {"sid": "SM" + "b" * 32, "account_sid": self.stack.twilio.account_sid, "from": "whatsapp:+14155238886",
             "to": "whatsapp:" + random_phone()}, "sent")
        self.assertEqual(self.stack.post_twilio(STATUS_WEBHOOK, status_params,
                                                self.sign(STATUS_WEBHOOK, status_params)).status, 204)
        self.assertEqual(self.stack.suite.records_on("whatsapp_inbound") - before, 3)

    def test_signed_but_unusable_forms_are_400_and_publish_nothing(self):
        before = self.stack.suite.end_offsets("whatsapp_inbound")
        no_sid = {k: v for k, v in self.params().items() if k not in ("MessageSid", "SmsSid", "SmsMessageSid")}
        answer = self.stack.post_twilio(WHATSAPP_WEBHOOK, no_sid, self.sign(WHATSAPP_WEBHOOK, no_sid))
        self.assertRefused(answer, "no MessageSid", 400, "missing_field")
        self.assertEqual(json.loads(answer.body)["error"].get("field"), "MessageSid")
        bad_number = dict(self.params(), From="whatsapp:+1", WaId="1")
        self.assertRefused(self.stack.post_twilio(WHATSAPP_WEBHOOK, bad_number, self.sign(WHATSAPP_WEBHOOK, bad_number)),
                           "invalid From", 400, "invalid_phone_number")
        self.assertEqual(self.stack.suite.end_offsets("whatsapp_inbound"), before, "nothing may be published")


class GmailPushTokens(ChannelTestCase):
    prefix = "e2e-gmail-token"

    def push_with(self, token_case=None, body=None, authorization=None):
        """One push, no retries: (status, parsed body, headers)."""
        import fakehttp
        import pubsub_push

        if body is None:
            body = pubsub_push.push_body("support@example.com", self.stack.gmail.mailbox("support@example.com").history_id,
                                         nonce(), "projects/fte-local/subscriptions/gmail-push")
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token_case is not None:
            headers["Authorization"] = "Bearer " + self.stack.keys.mint_case(token_case, GMAIL_WEBHOOK)
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        answer = fakehttp.http_call("POST", self.stack.providers.push.endpoint, data, headers)
        try:
            parsed = json.loads(answer.body) if answer.body else None
        except ValueError:
            parsed = answer.body
        return answer.status, parsed, answer.headers

    def test_bad_tokens_are_refused_and_publish_nothing(self):
        before = self.stack.suite.end_offsets("email_inbound")
        for case, expected in google_tokens.BAD_CASES.items():
            status, body, headers = self.push_with(case)
            self.assertEqual(status, expected, "%s: %s" % (case, body))
            if expected == 401:
                self.assertEqual(body["error"]["code"], "invalid_token", case)
                self.assertIn('error="invalid_token"', headers.get("WWW-Authenticate", ""), case)
            else:
                self.assertEqual(body["error"]["code"], "forbidden_token", case)
        status, body, _ = self.push_with()
        self.assertEqual((status, body["error"]["code"]), (401, "missing_token"))
        status, body, _ = self.push_with(authorization="Basic dXNlcjpwYXNz")
        self.assertEqual(status, 401)
        self.assertEqual(self.stack.suite.end_offsets("email_inbound"), before, "nothing may be published")

        # A good token on the same push is taken (the refusals were for the token).
        status, body, _ = self.push_with("valid")
        self.assertEqual(status, 204, body)
        self.assertEqual(self.stack.suite.records_on("email_inbound") - sum(before.values()), 1)

    def test_both_spellings_of_googles_issuer_are_accepted(self):
        before = self.stack.suite.records_on("email_inbound")
        self.assertEqual(self.push_with("valid")[0], 204)
        self.assertEqual(self.push_with("issuer_short")[0], 204)
        self.assertEqual(self.stack.suite.records_on("email_inbound") - before, 2)

    def test_authenticated_pushes_that_can_never_succeed_are_acknowledged_and_dropped(self):
        before = self.stack.suite.end_offsets("email_inbound")
        not_base64 = {"message": {"data": "%%%", "messageId": nonce(), "message_id": "x", "publishTime": "x",
                                  "publish_time": "x"}, "subscription": "projects/p/subscriptions/s"}
        no_history = {"message": {"data": base64.b64encode(b'{"emailAddress":"support@example.com"}').decode(),
                                  "messageId": nonce()}, "subscription": "projects/p/subscriptions/s"}
        no_message = {"subscription": "projects/p/subscriptions/s"}
        for what, body, code in (("bad JSON", b"{not json", "invalid_json"), ("data not base64", not_base64, "invalid_push"),
                                 ("no historyId", no_history, "invalid_push"), ("no message", no_message, "invalid_push")):
            status, answer, _ = self.push_with("valid", body)
            self.assertEqual(status, 200, "%s: %s" % (what, answer))
            self.assertEqual(answer, {"acknowledged": True, "dropped": code}, what)
        self.assertEqual(self.stack.suite.end_offsets("email_inbound"), before, "nothing may be published")

    def test_google_keys_are_cached(self):
        self.assertEqual(self.push_with("valid")[0], 204)
        fetches = self.stack.keys.fetches
        for _ in range(5):
            self.assertEqual(self.push_with("valid")[0], 204)
        self.assertEqual(self.stack.keys.fetches, fetches, "the JWKS is cached (Cache-Control max-age)")


class GmailKeyRotation(ChannelTestCase):
    """Its own gateway: an unknown kid refreshes the keys at most once a
    minute, so no other test may have spent that refresh."""

    prefix = "e2e-gmail-rotation"

    def test_a_token_from_a_newly_published_key_is_accepted(self):
        first = self.stack.push(token_case="valid")
        self.assertTrue(first["acked"], first)
        fetches = self.stack.keys.fetches
        self.stack.keys.rotate(drop_old=True)
        # The cached keys lack the new kid. A gateway may refresh them at once
        # or only a minute after its last fetch; Pub/Sub retries meanwhile
        # (here after 5, 10, 20 and 40 s), so the push must be taken by then.
        self.stack.providers.push.configure({"retries": 4, "backoff_s": 5})
        second = self.stack.push(token_case="valid")
        self.assertTrue(second["acked"], second)
        self.assertTrue(all(a["status"] in (401, 503) for a in second["attempts"][:-1]), second)
        self.assertGreater(self.stack.keys.fetches, fetches, "the keys were fetched again")


if __name__ == "__main__":
    unittest.main()
