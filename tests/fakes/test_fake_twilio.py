"""The fake Twilio API speaks Twilio's wire format and signs its callbacks
the way Twilio does (checked with Twilio's own RequestValidator)."""

import re
import time
import unittest

import fake_twilio
import fakehttp
import twilio_webhook
from fakes_testing import Receiver, call, form_of

SID = "AC" + "1" * 32
TOKEN = "2" * 32
CUSTOMER = "whatsapp:+15551230001"
OURS = "whatsapp:+14155238886"


class SignatureVectors(unittest.TestCase):
    """PROTOCOLS.md's vectors (twilio-python's own tests): the helper the
    simulators and channel tests sign with agrees with Twilio."""

    URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
    PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234", "From": "+14158675309",
              "To": "+18005551212"}

    def test_form_signature(self):
        self.assertEqual(twilio_webhook.sign("12345", self.URL, self.PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")

    def test_the_same_url_with_the_default_port(self):
        url = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
        self.assertEqual(twilio_webhook.sign("12345", url, self.PARAMS), "kvajT1Ptam85bY51eRf/AJRuM3w=")
        self.assertTrue(twilio_webhook.validate("12345", self.URL, self.PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w="))

    def test_json_body_signed_through_body_sha256(self):
        body = '{"property": "value", "boolean": true}'
        digest = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        url = self.URL + "&bodySHA256=" + digest
        self.assertEqual(twilio_webhook.sign("12345", url, {}), "a9nBmqA0ju/hNViExpshrM61xv4=")
        self.assertTrue(twilio_webhook.validate("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4="))


class FakeTwilioCase(unittest.TestCase):
    def setUp(self):
        self.fake = fake_twilio.TwilioFake(SID, TOKEN, log=fakehttp.Log(quiet=True))
        self.server = fakehttp.Server(self.fake.router(), log=fakehttp.Log(quiet=True)).start()
        self.receiver = Receiver()
        self.messages_url = "%s/2010-04-01/Accounts/%s/Messages.json" % (self.server.url, SID)

    def tearDown(self):
        self.server.stop()
        self.receiver.stop()

    def send(self, form=None, auth=(SID, TOKEN), url=None):
        form = form if form is not None else {"To": CUSTOMER, "From": OURS, "Body": "Hello"}
        return call("POST", url or self.messages_url, form=form, auth=auth)

    def control(self, path, body=None):
        status, answer, _ = call("POST" if body is not None else "GET", self.server.url + path, body)
        self.assertEqual(status, 200, answer)
        return answer


class RestApi(FakeTwilioCase):
    def test_wrong_or_missing_credentials_get_twilios_401(self):
        for auth in (None, (SID, "wrong"), ("AC" + "9" * 32, TOKEN)):
            status, body, headers = self.send(auth=auth)
            self.assertEqual(status, 401)
            self.assertEqual(body, {"code": 20003, "message": "Authenticate",
                                    "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401})
            self.assertIn("Basic", headers.get("WWW-Authenticate", ""))
        self.assertEqual(self.fake.sent_messages(), [])

    def test_another_accounts_path_is_not_found(self):
        url = "%s/2010-04-01/Accounts/%s/Messages.json" % (self.server.url, "AC" + "3" * 32)
        status, body, _ = self.send(url=url)
        self.assertEqual((status, body["code"]), (404, 20404))

    def test_accepted_message_is_twilios_resource(self):
        status, body, _ = self.send({"To": CUSTOMER, "From": OURS, "Body": "Your answer",
                                     "StatusCallback": "https://support.example.test/webhooks/twilio/status"})
        self.assertEqual(status, 201)
        self.assertRegex(body["sid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual(body["status"], "queued")
        self.assertEqual((body["to"], body["from"], body["body"]), (CUSTOMER, OURS, "Your answer"))
        self.assertEqual(body["account_sid"], SID)
        self.assertEqual(body["direction"], "outbound-api")
        self.assertEqual(body["num_media"], "0")
        self.assertEqual(body["api_version"], "2010-04-01")
        self.assertIsNone(body["error_code"])
        self.assertRegex(body["date_created"], r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
        self.assertEqual(body["uri"], "/2010-04-01/Accounts/%s/Messages/%s.json" % (SID, body["sid"]))
        status, fetched, _ = call("GET", "%s/2010-04-01/Accounts/%s/Messages/%s.json" % (
            self.server.url, SID, body["sid"]), auth=(SID, TOKEN))
        self.assertEqual((status, fetched["sid"]), (200, body["sid"]))
        recorded = self.fake.sent_messages()
        self.assertEqual(len(recorded), 1)
        self.assertEqual(recorded[0]["status_callback"], "https://support.example.test/webhooks/twilio/status")

    def test_repeated_media_urls_are_kept_in_order(self):
        status, body, _ = self.send([("To", CUSTOMER), ("From", OURS), ("Body", ""),
                                     ("MediaUrl", "https://x.example/1.jpg"), ("MediaUrl", "https://x.example/2.jpg")])
        self.assertEqual(status, 201, body)
        self.assertEqual(body["num_media"], "2")
        self.assertRegex(body["sid"], r"^MM[0-9a-f]{32}$")
        self.assertEqual(self.fake.sent_messages()[0]["media_urls"], ["https://x.example/1.jpg", "https://x.example/2.jpg"])

    def test_a_messaging_service_send_is_accepted(self):
        status, body, _ = self.send({"To": CUSTOMER, "MessagingServiceSid": "MG" + "4" * 32, "Body": "Hi"})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["status"], body["from"], body["messaging_service_sid"]), ("accepted", None, "MG" + "4" * 32))

    def test_an_approved_template_goes_without_a_body(self):
        status, body, _ = self.send({"To": CUSTOMER, "From": OURS, "ContentSid": "HX" + "a" * 32,
                                     "ContentVariables": '{"1": "Ada"}'})
        self.assertEqual(status, 201, body)
        sent = self.fake.sent_messages()[0]
        self.assertEqual((sent["content_sid"], sent["content_variables"]), ("HX" + "a" * 32, {"1": "Ada"}))

    def test_refusals_carry_twilios_codes(self):
        cases = [({"To": CUSTOMER, "From": OURS, "ContentSid": "HX1"}, 21655),
                 ({"To": CUSTOMER, "From": OURS, "ContentSid": "HX" + "a" * 32, "ContentVariables": "[1]"}, 21656),
                 ({"From": OURS, "Body": "x"}, 21604), ({"To": CUSTOMER, "Body": "x"}, 21603),
                 ({"To": CUSTOMER, "From": OURS}, 21619), ({"To": "whatsapp:5551", "From": OURS, "Body": "x"}, 21211),
                 ({"To": CUSTOMER, "From": "+14155238886", "Body": "x"}, 63007),
                 ({"To": CUSTOMER, "From": OURS, "Body": "x" * 1601}, 21617)]
        for form, code in cases:
            status, body, _ = self.send(form)
            self.assertEqual((status, body["code"], body["status"]), (400, code, 400), form)
            self.assertEqual(body["more_info"], "https://www.twilio.com/docs/errors/%d" % code)
        self.assertEqual(self.fake.sent_messages(), [])

    def test_unknown_message_is_404(self):
        status, body, _ = call("GET", "%s/2010-04-01/Accounts/%s/Messages/SM%s.json" % (self.server.url, SID, "0" * 32),
                               auth=(SID, TOKEN))
        self.assertEqual((status, body["code"]), (404, 20404))

    def test_list_is_paged_newest_first(self):
        sids = [self.send({"To": CUSTOMER, "From": OURS, "Body": str(i)})[1]["sid"] for i in range(3)]
        status, page, _ = call("GET", self.messages_url + "?PageSize=2", auth=(SID, TOKEN))
        self.assertEqual(status, 200)
        self.assertEqual([m["sid"] for m in page["messages"]], [sids[2], sids[1]])
        self.assertEqual((page["page"], page["page_size"], page["start"]), (0, 2, 0))
        self.assertIsNotNone(page["next_page_uri"])
        status, second, _ = call("GET", self.server.url + page["next_page_uri"], auth=(SID, TOKEN))
        self.assertEqual([m["sid"] for m in second["messages"]], [sids[0]])
        self.assertIsNone(second["next_page_uri"])
        status, filtered, _ = call("GET", self.messages_url + "?To=whatsapp%3A%2B19999999999", auth=(SID, TOKEN))
        self.assertEqual(filtered["messages"], [])


class Faults(FakeTwilioCase):
    def test_rate_limit_answers_429_and_records_nothing(self):
        self.control("/_control/faults", {"rate_limit": 2, "retry_after": 1})
        for _ in range(2):
            status, body, headers = self.send()
            self.assertEqual((status, body["code"], body["status"]), (429, 20429, 429))
            self.assertEqual(headers.get("Retry-After"), "1")
        self.assertEqual(self.send()[0], 201)
        self.assertEqual(len(self.fake.sent_messages()), 1)
        attempts = self.control("/_control/attempts")["attempts"]
        self.assertEqual([a["status"] for a in attempts], [429, 429, 201])

    def test_faults_can_be_kept_to_one_recipient(self):
        self.control("/_control/faults", {"rate_limit": 5, "to": "whatsapp:+15551230009"})
        self.assertEqual(self.send()[0], 201, "another recipient is not affected")
        self.assertEqual(self.send({"To": "whatsapp:+15551230009", "From": OURS, "Body": "x"})[0], 429)

    def test_accepted_then_500_records_the_message(self):
        self.control("/_control/faults", {"fail_after_accept": 1})
        status, body, _ = self.send()
        self.assertEqual((status, body["code"]), (500, 20500))
        sent = self.control("/_control/messages")["messages"]
        self.assertEqual(len(sent), 1, "Twilio accepted it although it answered 500")
        self.assertEqual(self.send()[0], 201, "only the next send fails")

    def test_accepted_then_connection_dropped(self):
        self.control("/_control/faults", {"reset_after_accept": 1})
        status, _, _ = self.send()
        self.assertEqual(status, 0)
        self.assertEqual(len(self.fake.sent_messages()), 1)

    def test_permanent_refusal(self):
        self.control("/_control/faults", {"reject": 1, "reject_status": 400, "reject_code": 63016,
                                          "reject_message": "outside the 24h window"})
        status, body, _ = self.send()
        self.assertEqual((status, body["code"]), (400, 63016))
        self.assertEqual(self.fake.sent_messages(), [])

    def test_delay_answers_late_after_recording(self):
        self.control("/_control/faults", {"delay_ms": 300})
        started = time.time()
        self.assertEqual(self.send()[0], 201)
        self.assertGreaterEqual(time.time() - started, 0.3)


class StatusCallbacks(FakeTwilioCase):
    def send_with_callback(self, callback_url):
        status, body, _ = self.send({"To": CUSTOMER, "From": OURS, "Body": "Answer", "StatusCallback": callback_url})
        self.assertEqual(status, 201, body)
        return body["sid"]

    def test_callbacks_queued_sent_delivered_signed_by_twilios_validator(self):
        url = self.receiver.url("/webhooks/twilio/status")
        sid = self.send_with_callback(url)
        requests = self.receiver.wait_for(3)
        self.assertEqual(len(requests), 3)
        forms = [form_of(r) for r in requests]
        self.assertEqual([f["MessageStatus"] for f in forms], ["queued", "sent", "delivered"])
        for request, form in zip(requests, forms):
            self.assertEqual(form["MessageSid"], sid)
            self.assertEqual((form["To"], form["From"], form["AccountSid"]), (CUSTOMER, OURS, SID))
            self.assertEqual(form["SmsStatus"], form["MessageStatus"])
            self.assertTrue(request.header("Content-Type").startswith("application/x-www-form-urlencoded"))
            signature = request.header("X-Twilio-Signature")
            self.assertTrue(twilio_webhook.validate(TOKEN, url, form, signature))
            tampered = dict(form, MessageStatus="read")
            self.assertFalse(twilio_webhook.validate(TOKEN, url, tampered, signature))
        deadline = time.time() + 5
        while self.fake.sent_messages()[0]["status"] != "delivered" and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.fake.sent_messages()[0]["status"], "delivered")
        # The fake records a callback's answer after the receiver has sent
        # it, so the third record can trail the third request by a moment.
        deadline = time.time() + 5
        recorded = self.control("/_control/callbacks")["callbacks"]
        while len(recorded) < 3 and time.time() < deadline:
            time.sleep(0.05)
            recorded = self.control("/_control/callbacks")["callbacks"]
        self.assertEqual([c["answer"]["status"] for c in recorded], [204, 204, 204])

    def test_callbacks_signed_over_the_public_url_and_routed_like_a_load_balancer(self):
        public = "https://support.example.test/webhooks/twilio/status"
        self.control("/_control/routes", {"https://support.example.test": self.receiver.server.url})
        self.send_with_callback(public)
        requests = self.receiver.wait_for(3)
        self.assertEqual(len(requests), 3)
        self.assertEqual(requests[0].path, "/webhooks/twilio/status")
        form = form_of(requests[0])
        self.assertTrue(twilio_webhook.validate(TOKEN, public, form, requests[0].header("X-Twilio-Signature")))
        self.assertFalse(twilio_webhook.validate(TOKEN, self.receiver.url("/webhooks/twilio/status"), form,
                                                 requests[0].header("X-Twilio-Signature")))

    def test_out_of_order_duplicated_and_read_callbacks(self):
        self.control("/_control/callback_plan", {"order": "reversed", "read": True, "duplicates": 2, "delay_ms": 20,
                                                 "first_delay_ms": 10})
        self.send_with_callback(self.receiver.url("/cb"))
        requests = self.receiver.wait_for(8)
        statuses = [form_of(r)["MessageStatus"] for r in requests]
        self.assertEqual(statuses, ["read", "read", "delivered", "delivered", "sent", "sent", "queued", "queued"])
        time.sleep(0.1)
        self.assertEqual(self.fake.sent_messages()[0]["status"], "read", "the resource never moves back")

    def test_an_undelivered_message_reports_its_error_code(self):
        self.control("/_control/faults", {"final_status": {"status": "undelivered", "error_code": "63016"}})
        self.control("/_control/callback_plan", {"delay_ms": 10, "first_delay_ms": 10})
        self.send_with_callback(self.receiver.url("/cb"))
        forms = [form_of(r) for r in self.receiver.wait_for(3)]
        self.assertEqual([f["MessageStatus"] for f in forms], ["queued", "sent", "undelivered"])
        self.assertEqual(forms[-1]["ErrorCode"], "63016")
        self.assertNotIn("ErrorCode", forms[0])

    def test_no_callback_url_no_callbacks(self):
        self.assertEqual(self.send()[0], 201)
        time.sleep(0.6)
        self.assertEqual(self.receiver.requests, [])


class InboundWebhooks(FakeTwilioCase):
    def test_inbound_message_is_signed_and_retried_with_the_same_sid(self):
        url = self.receiver.url("/webhooks/twilio/whatsapp")
        record = self.control("/_control/inbound", {
            "url": url, "from": "+15551230001", "body": "Where is my order?", "profile_name": "Ada",
            "media": [{"url": "https://api.twilio.com/x.jpg", "content_type": "image/jpeg"}], "repeat": 3})
        self.assertEqual([a["status"] for a in record["answers"]], [204, 204, 204])
        requests = self.receiver.wait_for(3)
        forms = [form_of(r) for r in requests]
        self.assertEqual(len({f["MessageSid"] for f in forms}), 1)
        self.assertEqual(len({r.header("I-Twilio-Idempotency-Token") for r in requests}), 1)
        form = forms[0]
        self.assertEqual((form["From"], form["To"], form["WaId"]), ("whatsapp:+15551230001", OURS, "15551230001"))
        self.assertEqual((form["Body"], form["ProfileName"], form["NumMedia"]), ("Where is my order?", "Ada", "1"))
        self.assertEqual((form["MediaUrl0"], form["MediaContentType0"]), ("https://api.twilio.com/x.jpg", "image/jpeg"))
        self.assertRegex(form["MessageSid"], r"^MM[0-9a-f]{32}$")
        self.assertTrue(twilio_webhook.validate(TOKEN, url, form, requests[0].header("X-Twilio-Signature")))
        self.assertTrue(re.match(r"^TwilioProxy/", requests[0].header("User-Agent")))


if __name__ == "__main__":
    unittest.main()
