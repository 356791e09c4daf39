"""WhatsApp end to end: a message Twilio signs (with Twilio's own helper
library) crosses gateway -> normalizer -> agent-worker, the reply goes out
through the fake Twilio API, Twilio's status callbacks come back through the
gateway and the reply ends `delivered` in PostgreSQL."""

import unittest

from channels import STATUS_WEBHOOK, ChannelTestCase, nonce, random_phone

OUR_NUMBER = "whatsapp:+14155238886"


class WhatsAppFlow(ChannelTestCase):
    prefix = "e2e-whatsapp"
    watch_gmail = False

    def ask(self, phone, question, profile_name="Ada Lovelace", **kwargs):
        params, answers = self.stack.whatsapp(phone, question, profile_name=profile_name, **kwargs)
        for answer in answers:
            self.assertEqual(answer.status, 200, answer.body)
            self.assertTrue(answer.headers.get("Content-Type", "").startswith("text/xml"), answer.headers)
            self.assertIn("<Response/>", answer.body.replace("<Response></Response>", "<Response/>"))
        return params

    def reply_sent_to(self, phone):
        return self.wait_for(lambda: self.stack.twilio_sent_to(phone), 60, "a reply to %s at the Twilio API" % phone)[0]

    def test_signed_message_is_answered_and_the_reply_is_delivered(self):
        phone = random_phone()
        question = "How do I reset my password? (ref %s)" % nonce()
        self.ask(phone, question)

        inbound = self.wait_for(lambda: self.stack.messages("phone", phone, "inbound"), 60, "the inbound message row")
        self.assertEqual(len(inbound), 1)
        self.assertEqual((inbound[0]["channel"], inbound[0]["body"]), ("whatsapp", question))
        self.assertEqual(self.stack.db.value("SELECT display_name FROM customers WHERE id = :'id'",
                                             id=inbound[0]["customer_id"]), "Ada Lovelace")

        sent = self.reply_sent_to(phone)
        self.assertEqual(sent["from"], OUR_NUMBER, "answered from the number the customer wrote to")
        self.assertTrue(sent["body"].strip())
        self.assertEqual(sent["status_callback"], STATUS_WEBHOOK)
        self.assertEqual(sent["account_sid"], self.stack.twilio.account_sid)

        reply = self.wait_for(
            lambda: [m for m in self.stack.messages("phone", phone, "outbound") if m["status"] == "delivered"], 60,
            "the reply row delivered")[0]
        self.assertEqual(reply["provider_message_id"], sent["sid"])
        self.assertEqual(reply["body"], sent["body"])
        self.assertEqual(reply["conversation_id"], inbound[0]["conversation_id"])
        callbacks = [c for c in self.stack.twilio.callbacks if c["sid"] == sent["sid"]]
        self.assertEqual([c["status"] for c in callbacks], ["queued", "sent", "delivered"])
        self.assertEqual([c["answer"]["status"] for c in callbacks], [204, 204, 204], callbacks)
        self.assertEqual(self.stack.db.value("SELECT status FROM tickets WHERE id = :'id'", id=inbound[0]["ticket_id"]),
                         "answered")

    def test_out_of_order_callbacks_never_move_the_status_back(self):
        # Twilio does not promise order: read arrives first, queued last.
        self.stack.twilio_callbacks(order="reversed", read=True, first_delay_ms=500)
        phone = random_phone()
        self.ask(phone, "How do I export my data? (ref %s)" % nonce())
        sent = self.reply_sent_to(phone)
        self.wait_for(lambda: len([c for c in self.stack.twilio.callbacks if c["sid"] == sent["sid"]]) == 4, 30,
                      "four callbacks sent")
        self.drained()
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound") if m["status"] == "read"], 30,
                      "the reply row read")
        self.stack.stays(lambda: [m["status"] for m in self.stack.messages("phone", phone, "outbound")] == ["read"], 3,
                         "status read")

    def test_an_undelivered_reply_is_recorded_undelivered(self):
        phone = random_phone()
        self.stack.twilio_faults(final_status={"status": "undelivered", "error_code": "63016"}, to="whatsapp:" + phone)
        self.ask(phone, "Where can I download my invoices? (ref %s)" % nonce())
        self.reply_sent_to(phone)
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound")
                               if m["status"] == "undelivered"], 60, "the reply row undelivered")

    def test_a_message_with_media_and_the_same_customer_again(self):
        phone = random_phone()
        self.ask(phone, "", media=[{"url": "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
                                    "content_type": "image/jpeg"}])
        self.wait_for(lambda: self.stack.messages("phone", phone, "inbound"), 60, "the media message row")
        self.ask(phone, "How long does shipping take? (ref %s)" % nonce())
        rows = self.wait_for(lambda: (lambda r: r if len(r) == 2 else None)(self.stack.messages("phone", phone, "inbound")),
                             60, "both inbound rows")
        self.assertEqual(rows[0]["customer_id"], rows[1]["customer_id"], "one customer per number")
        self.assertEqual(rows[0]["conversation_id"], rows[1]["conversation_id"], "chat continues its conversation")
        self.assertEqual(self.stack.db.count("SELECT count(*) FROM customer_identifiers WHERE kind = 'phone' AND "
                                             "value = :'v'", v=phone), 1)


if __name__ == "__main__":
    unittest.main()
