"""Pub/Sub push as Google sends it: the JSON shape, a verifiable OIDC
bearer token, retries until a 2xx ack, and Gmail's delivery + push."""

import base64
import json
import unittest

import fake_gmail
import fakehttp
import google_tokens
import pubsub_push
from fakes_testing import Receiver, call
from test_google_tokens import reference_verify


class PushSenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = google_tokens.GoogleKeys()

    def setUp(self):
        self.receiver = Receiver()
        self.sender = pubsub_push.PushSender(self.receiver.url("/webhooks/gmail"), self.keys, backoff_s=0.01,
                                             log=fakehttp.Log(quiet=True))

    def tearDown(self):
        self.receiver.stop()

    def test_push_json_and_token(self):
        record = self.sender.push("support@example.com", 9876543210)
        self.assertTrue(record["acked"])
        request = self.receiver.requests[0]
        body = json.loads(request.body)
        self.assertEqual(set(body), {"message", "subscription"})
        self.assertEqual(body["subscription"], "projects/fte-local/subscriptions/gmail-push")
        message = body["message"]
        self.assertEqual(message["messageId"], message["message_id"])
        self.assertRegex(message["messageId"], r"^\d+$")
        self.assertEqual(message["publishTime"], message["publish_time"])
        self.assertRegex(message["publishTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(json.loads(base64.b64decode(message["data"])),
                         {"emailAddress": "support@example.com", "historyId": 9876543210})
        self.assertEqual(request.header("Content-Type"), "application/json")
        token = request.header("Authorization")[len("Bearer "):]
        self.assertEqual(reference_verify(token, self.keys.jwks()), 200)

    def test_history_id_as_a_string_and_attributes(self):
        self.sender.push("support@example.com", 42, history_id_as_string=True, attributes={"a": "b"})
        message = json.loads(self.receiver.requests[0].body)["message"]
        self.assertEqual(json.loads(base64.b64decode(message["data"]))["historyId"], "42")
        self.assertEqual(message["attributes"], {"a": "b"})

    def test_retries_until_acked_with_the_same_message_id(self):
        self.receiver.answers = [503, 500]
        record = self.sender.push("support@example.com", 1)
        self.assertEqual([a["status"] for a in record["attempts"]], [503, 500, 204])
        ids = {json.loads(r.body)["message"]["messageId"] for r in self.receiver.requests}
        self.assertEqual(len(ids), 1)

    def test_gives_up_after_its_retries(self):
        self.receiver.default = 401
        record = self.sender.push("support@example.com", 1, token_case="expired")
        self.assertFalse(record["acked"])
        self.assertEqual(len(record["attempts"]), 4)

    def test_every_2xx_pubsub_accepts_is_an_ack(self):
        for status in (200, 201, 202, 204):
            self.receiver.answers = [status]
            self.assertEqual(len(self.sender.push("support@example.com", 1)["attempts"]), 1, status)


class GmailDeliveryPushes(unittest.TestCase):
    def test_delivered_mail_is_pushed_with_the_mailboxs_history_id(self):
        keys = google_tokens.GoogleKeys()
        receiver = Receiver()
        log = fakehttp.Log(quiet=True)
        sender = pubsub_push.PushSender(receiver.url("/webhooks/gmail"), keys, log=log)
        gmail = fake_gmail.GmailFake(push=sender, log=log)
        server = fakehttp.Server(gmail.router(), log=log).start()
        try:
            status, delivered, _ = call("POST", server.url + "/_control/gmail/deliver", {
                "from": "ada@example.org", "subject": "Hi", "body": "Hello", "push_repeat": 2})
            self.assertEqual(status, 200, delivered)
            self.assertEqual(len(delivered["pushes"]), 2)
            datas = [json.loads(base64.b64decode(json.loads(r.body)["message"]["data"])) for r in receiver.requests]
            self.assertEqual(datas, [{"emailAddress": "support@example.com", "historyId": int(delivered["historyId"])}] * 2)
            ids = [json.loads(r.body)["message"]["messageId"] for r in receiver.requests]
            self.assertEqual(len(set(ids)), 2, "two Pub/Sub messages for one history id")
            status, again, _ = call("POST", server.url + "/_control/gmail/push", {
                "mailbox": "support@example.com", "message_id": ids[0]})
            self.assertEqual(json.loads(receiver.requests[-1].body)["message"]["messageId"], ids[0], "a redelivery")
            self.assertEqual(len(call("GET", server.url + "/_control/gmail/pushes")[1]["pushes"]), 3)
        finally:
            server.stop()
            receiver.stop()


if __name__ == "__main__":
    unittest.main()
