"""The fake Gmail API and OAuth2 token endpoint behave as Google's do where
fte depends on it: auth, history paging and ids, the stale cursor, raw
messages, search, threading of sends, and their error shapes."""

import base64
import email
import email.policy
import time
import unittest
import urllib.parse

import jwt

import fake_gmail
import fakehttp
from fakes_testing import call

MAILBOX = "support@example.com"
CLIENT = ("client-id.apps.googleusercontent.com", "client-secret")
REFRESH = "1//refresh"


class GmailCase(unittest.TestCase):
    def setUp(self):
        self.fake = fake_gmail.GmailFake((MAILBOX,), CLIENT[0], CLIENT[1], {REFRESH: MAILBOX}, page_size=3,
                                         list_page_size=3, log=fakehttp.Log(quiet=True))
        self.server = fakehttp.Server(self.fake.router(), log=fakehttp.Log(quiet=True)).start()
        self.fake.token_url = self.server.url + "/token"
        self.token = self.refresh_grant()[1]["access_token"]

    def tearDown(self):
        self.server.stop()

    def refresh_grant(self, client=CLIENT, refresh=REFRESH):
        return call("POST", self.server.url + "/token", form={
            "grant_type": "refresh_token", "client_id": client[0], "client_secret": client[1], "refresh_token": refresh})

    def api(self, method, path, body=None, token=None, user="me"):
        return call(method, "%s/gmail/v1/users/%s/%s" % (self.server.url, user, path), body,
                    {"Authorization": "Bearer " + (token or self.token)})

    def control(self, path, body=None):
        status, answer, _ = call("POST" if body is not None else "GET", self.server.url + "/_control/gmail/" + path,
                                 body)
        self.assertEqual(status, 200, answer)
        return answer

    def deliver(self, subject="Question", body="Hello", **fields):
        fields.update({"from": fields.pop("sender", "Ada <ada@example.org>"), "subject": subject, "body": body,
                       "push": False})
        return self.control("deliver", fields)

    def history(self, start, **params):
        query = urllib.parse.urlencode(dict({"startHistoryId": start}, **params))
        return self.api("GET", "history?" + query)

    def all_history(self, start, **params):
        ids, pages, token = [], 0, None
        while True:
            extra = dict(params, pageToken=token) if token else params
            status, body, _ = self.history(start, **extra)
            self.assertEqual(status, 200, body)
            pages += 1
            ids += [r["messagesAdded"][0]["message"]["id"] for r in body.get("history", []) if "messagesAdded" in r]
            token = body.get("nextPageToken")
            if not token:
                return ids, pages, body

    def raw_message(self, to="ada@example.org", subject="Re: Question", in_reply_to=None, message_id=None):
        message = email.message.EmailMessage()
        message["From"] = MAILBOX
        message["To"] = to
        message["Subject"] = subject
        if message_id:
            message["Message-ID"] = message_id
        if in_reply_to:
            message["In-Reply-To"] = in_reply_to
            message["References"] = in_reply_to
        message.set_content("Thanks for writing.")
        return base64.urlsafe_b64encode(message.as_bytes(policy=email.policy.SMTP)).decode().rstrip("=")


class TokenEndpoint(GmailCase):
    def test_refresh_grant_answers_like_google(self):
        status, body, headers = self.refresh_grant()
        self.assertEqual(status, 200)
        self.assertTrue(body["access_token"].startswith("ya29."))
        self.assertEqual((body["token_type"], body["expires_in"]), ("Bearer", 3599))
        self.assertIn("gmail", body["scope"])
        self.assertIn("no-store", headers.get("Cache-Control", ""))

    def test_bad_client_and_bad_refresh_token(self):
        status, body, _ = self.refresh_grant(client=(CLIENT[0], "wrong"))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        status, body, _ = self.refresh_grant(refresh="1//unknown")
        self.assertEqual((status, body), (400, {"error": "invalid_grant",
                                                "error_description": "Token has been expired or revoked."}))
        self.control("revoke", {"refresh_token": REFRESH})
        self.assertEqual(self.refresh_grant()[1]["error"], "invalid_grant")
        status, body, _ = call("POST", self.server.url + "/token", form={"grant_type": "password"})
        self.assertEqual((status, body["error"]), (400, "unsupported_grant_type"))

    def assertion(self, key=None, **claims):
        info = self.fake.service_account_info(self.fake.token_url)
        now = int(time.time())
        payload = {"iss": info["client_email"], "scope": fake_gmail.GMAIL_SCOPE, "aud": info["token_uri"],
                   "iat": now, "exp": now + 3600, "sub": MAILBOX}
        payload.update(claims)
        return jwt.encode(payload, key or info["private_key"], algorithm="RS256",
                          headers={"kid": info["private_key_id"]})

    def jwt_grant(self, assertion):
        return call("POST", self.server.url + "/token", form={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion})

    def test_service_account_jwt_bearer_grant(self):
        status, body, _ = self.jwt_grant(self.assertion())
        self.assertEqual(status, 200, body)
        status, profile, _ = self.api("GET", "profile", token=body["access_token"])
        self.assertEqual((status, profile["emailAddress"]), (200, MAILBOX))
        # Google's own audience is accepted too (a client using the default token URL).
        self.assertEqual(self.jwt_grant(self.assertion(aud="https://oauth2.googleapis.com/token"))[0], 200)

    def test_bad_assertions_are_invalid_grant(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        now = int(time.time())
        for assertion in (self.assertion(key=other), self.assertion(exp=now - 300, iat=now - 3900),
                          self.assertion(aud="https://elsewhere.example/token"),
                          self.assertion(iss="someone@else.iam.gserviceaccount.com"),
                          self.assertion(exp=now + 7200), "garbage"):
            status, body, _ = self.jwt_grant(assertion)
            self.assertEqual((status, body.get("error")), (400, "invalid_grant"), (assertion[:40], body))
        self.assertEqual(self.jwt_grant(self.assertion(scope=""))[1]["error"], "invalid_scope")


class Authentication(GmailCase):
    def test_missing_wrong_and_expired_tokens_get_googles_401(self):
        for token in ("", "ya29.unknown"):
            status, body, headers = self.api("GET", "profile", token=token or " ")
            self.assertEqual(status, 401)
            self.assertEqual(body["error"]["code"], 401)
            self.assertEqual(body["error"]["status"], "UNAUTHENTICATED")
            self.assertEqual(body["error"]["errors"][0]["reason"], "authError")
            self.assertIn('error="invalid_token"', headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.api("GET", "profile")[0], 200)
        self.control("expire_tokens", {})
        self.assertEqual(self.api("GET", "profile")[0], 401)
        fresh = self.refresh_grant()[1]["access_token"]
        self.assertEqual(self.api("GET", "profile", token=fresh)[0], 200)

    def test_user_by_address_or_me_and_delegation(self):
        self.assertEqual(self.api("GET", "profile", user=urllib.parse.quote(MAILBOX))[0], 200)
        status, body, _ = self.api("GET", "profile", user="other@example.com")
        self.assertEqual((status, body["error"]["status"]), (403, "PERMISSION_DENIED"))


class History(GmailCase):
    def test_history_pages_follow_next_page_token_and_ids_grow(self):
        start = int(self.api("GET", "profile")[1]["historyId"])
        delivered = [self.deliver("Question %d" % i)["id"] for i in range(7)]
        ids, pages, last = self.all_history(start, historyTypes="messageAdded")
        self.assertEqual(ids, delivered)
        self.assertEqual(pages, 3, "pages of at most 3 records")
        status, page, _ = self.history(start)
        record_ids = [int(r["id"]) for r in page["history"]]
        self.assertEqual(record_ids, sorted(record_ids))
        self.assertTrue(all(r > start for r in record_ids))
        self.assertEqual(last["historyId"], self.api("GET", "profile")[1]["historyId"])
        # maxResults cannot make the page larger than the simulator's cap.
        status, page, _ = self.history(start, maxResults=500)
        self.assertEqual(len(page["history"]), 3)
        self.assertIn("nextPageToken", page)

    def test_no_changes_has_no_history_key(self):
        current = self.api("GET", "profile")[1]["historyId"]
        status, body, _ = self.history(current)
        self.assertEqual((status, body), (200, {"historyId": current}))

    def test_history_types_filter_out_label_changes(self):
        start = int(self.api("GET", "profile")[1]["historyId"])
        message = self.deliver()
        self.control("labels", {"mailbox": MAILBOX, "id": message["id"], "remove": ["UNREAD"]})
        status, everything, _ = self.history(start)
        self.assertEqual([list(k for k in r if k.endswith("Added") or k.endswith("Removed")) for r in everything["history"]],
                         [["messagesAdded"], ["labelsRemoved"]])
        ids, _, _ = self.all_history(start, historyTypes="messageAdded")
        self.assertEqual(ids, [message["id"]])

    def test_a_stale_start_id_is_googles_404(self):
        start = int(self.api("GET", "profile")[1]["historyId"])
        self.deliver()
        state = self.control("expire_history", {"mailbox": MAILBOX})
        status, body, _ = self.history(start)
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["status"], "NOT_FOUND")
        self.assertEqual(body["error"]["errors"][0]["reason"], "notFound")
        self.assertEqual(self.history(state["horizon"])[0], 200, "the horizon itself is still valid")
        self.assertEqual(self.history("abc")[0], 400)
        self.assertEqual(self.api("GET", "history")[0], 400)

    def test_sent_mail_appears_in_history_as_message_added(self):
        start = int(self.api("GET", "profile")[1]["historyId"])
        sent = self.api("POST", "messages/send", {"raw": self.raw_message()})[1]
        status, body, _ = self.history(start, historyTypes="messageAdded")
        added = body["history"][0]["messagesAdded"][0]["message"]
        self.assertEqual((added["id"], added["labelIds"]), (sent["id"], ["SENT"]))


class Messages(GmailCase):
    def test_raw_message_and_its_metadata(self):
        delivered = self.deliver("Refund?", "Café ☕ and a question", message_id="<m1@customer.example.org>")
        status, body, _ = self.api("GET", "messages/%s?format=raw" % delivered["id"])
        self.assertEqual(status, 200)
        self.assertEqual((body["id"], body["threadId"]), (delivered["id"], delivered["threadId"]))
        self.assertEqual(body["threadId"], body["id"], "a new thread's id is its first message's")
        self.assertEqual(body["labelIds"], ["INBOX", "UNREAD", "CATEGORY_PERSONAL"])
        self.assertEqual(body["historyId"], delivered["historyId"])
        self.assertRegex(body["internalDate"], r"^\d{13}$")
        self.assertRegex(body["raw"], r"^[A-Za-z0-9_\-]+=*$")
        parsed = email.message_from_bytes(base64.urlsafe_b64decode(body["raw"]), policy=email.policy.default)
        self.assertEqual(parsed["Message-ID"], "<m1@customer.example.org>")
        self.assertEqual(parsed.get_body().get_content().strip(), "Café ☕ and a question")
        status, minimal, _ = self.api("GET", "messages/%s?format=minimal" % delivered["id"])
        self.assertNotIn("raw", minimal)

    def test_unknown_message_and_push_before_visible(self):
        self.assertEqual(self.api("GET", "messages/00000000deadbeef?format=raw")[0], 404)
        delivered = self.deliver(invisible_gets=2)
        statuses = [self.api("GET", "messages/%s?format=raw" % delivered["id"])[0] for _ in range(3)]
        self.assertEqual(statuses, [404, 404, 200])

    def test_search_by_message_id_label_and_date(self):
        first = self.deliver(message_id="<a@customer.example.org>", internal_date_ms=1_700_000_000_000)
        second = self.deliver(message_id="<b@customer.example.org>", internal_date_ms=1_700_000_100_000)
        sent = self.api("POST", "messages/send", {"raw": self.raw_message(message_id="<reply-1@example.com>")})[1]

        def ids(query):
            status, body, _ = self.api("GET", "messages?q=" + urllib.parse.quote(query))
            self.assertEqual(status, 200, body)
            return [m["id"] for m in body.get("messages", [])]

        self.assertEqual(ids("rfc822msgid:<reply-1@example.com>"), [sent["id"]])
        self.assertEqual(ids("rfc822msgid:reply-1@example.com in:sent"), [sent["id"]])
        self.assertEqual(ids("rfc822msgid:reply-1@example.com in:inbox"), [])
        self.assertEqual(ids("in:sent"), [sent["id"]])
        self.assertEqual(ids("after:1700000050 -in:sent"), [second["id"]])
        self.assertEqual(ids("after:1700000000 -in:sent"), [second["id"], first["id"]], "newest first")
        self.assertEqual(ids("rfc822msgid:nothing@example.com"), [])
        status, body, _ = self.api("GET", "messages?q=nothing-matches-this")
        self.assertEqual(body, {"resultSizeEstimate": 0})

    def test_list_is_paged(self):
        for i in range(5):
            self.deliver("Q%d" % i)
        status, page, _ = self.api("GET", "messages?q=in:inbox")
        self.assertEqual(len(page["messages"]), 3)
        status, rest, _ = self.api("GET", "messages?q=in:inbox&pageToken=" + page["nextPageToken"])
        self.assertEqual(len(rest["messages"]), 2)
        self.assertNotIn("nextPageToken", rest)


class Sending(GmailCase):
    def test_a_reply_joins_the_thread_only_with_references_and_subject(self):
        incoming = self.deliver("Question", message_id="<q1@customer.example.org>")
        status, reply, _ = self.api("POST", "messages/send", {
            "raw": self.raw_message(in_reply_to="<q1@customer.example.org>"), "threadId": incoming["threadId"]})
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["threadId"], reply["labelIds"]), (incoming["threadId"], ["SENT"]))
        status, lonely, _ = self.api("POST", "messages/send", {"raw": self.raw_message(), "threadId": incoming["threadId"]})
        self.assertNotEqual(lonely["threadId"], incoming["threadId"], "no In-Reply-To/References: a new thread")
        status, other, _ = self.api("POST", "messages/send", {
            "raw": self.raw_message(subject="Something else", in_reply_to="<q1@customer.example.org>"),
            "threadId": incoming["threadId"]})
        self.assertNotEqual(other["threadId"], incoming["threadId"], "another subject: a new thread")
        sent = self.control("sent")["sent"]
        self.assertEqual(sent[0]["in_reply_to"], "<q1@customer.example.org>")
        self.assertTrue(sent[0]["message_id"].startswith("<"), "Gmail adds a Message-ID when there is none")
        # The customer answers the reply: the answer lands in the same thread.
        answer = self.deliver("Re: Question", in_reply_to=sent[0]["message_id"], references=[
            "<q1@customer.example.org>", sent[0]["message_id"]])
        self.assertEqual(answer["threadId"], incoming["threadId"])

    def test_bad_sends(self):
        self.assertEqual(self.api("POST", "messages/send", {})[0], 400)
        self.assertEqual(self.api("POST", "messages/send", {"raw": "!!!"})[0], 400)
        status, body, _ = self.api("POST", "messages/send", {"raw": self.raw_message(), "threadId": "0000000000000001"})
        self.assertEqual((status, body["error"]["status"]), (404, "NOT_FOUND"))
        self.assertEqual(self.control("sent")["sent"], [])

    def test_a_send_answered_500_after_it_was_stored_is_findable(self):
        self.control("faults", {"fail_send_after_store": 1})
        status, body, _ = self.api("POST", "messages/send", {"raw": self.raw_message(message_id="<reply-x@example.com>")})
        self.assertEqual((status, body["error"]["code"]), (500, 500))
        status, found, _ = self.api("GET", "messages?q=" + urllib.parse.quote("rfc822msgid:<reply-x@example.com> in:sent"))
        self.assertEqual(len(found["messages"]), 1)
        self.control("faults", {"rate_limit_sends": 1})
        self.assertEqual(self.api("POST", "messages/send", {"raw": self.raw_message()})[0], 429)
        self.assertEqual(len(self.control("sent")["sent"]), 1, "a 429 stores nothing")
        self.control("faults", {"rate_limit_sends": 1, "send_faults_to": "grace@example.org"})
        self.assertEqual(self.api("POST", "messages/send", {"raw": self.raw_message()})[0], 200, "not for ada")
        self.assertEqual(self.api("POST", "messages/send", {"raw": self.raw_message(to="grace@example.org")})[0], 429)


class Watch(GmailCase):
    def test_watch_and_stop(self):
        status, body, _ = self.api("POST", "watch", {"topicName": "not a topic"})
        self.assertEqual(status, 400)
        status, body, _ = self.api("POST", "watch", {"topicName": "projects/p/topics/gmail", "labelIds": ["INBOX"]})
        self.assertEqual(status, 200)
        self.assertEqual(body["historyId"], self.api("GET", "profile")[1]["historyId"])
        expires_in_days = (int(body["expiration"]) / 1000 - time.time()) / 86400
        self.assertAlmostEqual(expires_in_days, 7, places=2)
        self.assertEqual(self.control("mailbox?mailbox=" + MAILBOX)["watch_calls"], 1)
        self.assertEqual(self.api("POST", "stop", {})[0], 204)


if __name__ == "__main__":
    unittest.main()
