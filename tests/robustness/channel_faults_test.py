"""Channels under faults: providers retrying, duplicating, losing history,
answering 500 after doing the work, and the agent-worker killed with -9
between writing a reply to its outbox and sending it. Nothing accepted is
lost, nothing is done twice, and what cannot be known is raised to a person."""

import unittest

from channels import ChannelTestCase, nonce, random_phone

SETTLE_SECONDS = 5  # how long a count must hold to show no late duplicate


class TwilioFaults(ChannelTestCase):
    prefix = "rb-twilio"
    watch_gmail = False

    def ask(self, phone, question=None, **kwargs):
        params, answers = self.stack.whatsapp(phone, question or "How do I reset my password? (ref %s)" % nonce(),
                                              **kwargs)
        for answer in answers:
            self.assertEqual(answer.status, 200, answer.body)
        return params

    def test_twilio_retrying_one_message_sid_three_times_makes_one_ticket_message(self):
        phone = random_phone()
        self.ask(phone, repeat=3)
        self.wait_for(lambda: self.stack.twilio_sent_to(phone), 60, "the reply")
        self.drained()
        self.stack.stays(lambda: len(self.stack.messages("phone", phone, "inbound")) == 1, SETTLE_SECONDS,
                         "one inbound message row")
        self.assertEqual(len(self.stack.messages("phone", phone, "outbound")), 1, "one reply row")
        self.assertEqual(len(self.stack.twilio_sent_to(phone)), 1, "one reply sent")

    def test_429_is_retried_until_twilio_accepts(self):
        phone = random_phone()
        self.stack.twilio_faults(rate_limit=2, retry_after=1, to="whatsapp:" + phone)
        self.ask(phone)
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound") if m["status"] == "delivered"],
                      90, "the reply delivered after two 429s")
        self.assertEqual([a["status"] for a in self.stack.twilio_attempts_to(phone)], [429, 429, 201])
        self.assertEqual(len(self.stack.twilio_sent_to(phone)), 1)

    def test_500_after_accepting_is_never_sent_again_and_raised_as_unknown(self):
        phone = random_phone()
        self.stack.twilio_faults(fail_after_accept=1, to="whatsapp:" + phone)
        self.ask(phone)
        self.wait_for(lambda: [e for e in self.stack.escalations("phone", phone) if e["reason"] == "delivery_unknown"],
                      90, "an escalation with reason delivery_unknown")
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound") if m["status"] == "unknown"],
                      30, "the reply row marked unknown")
        self.stack.stays(lambda: len(self.stack.twilio_attempts_to(phone)) == 1, SETTLE_SECONDS, "a single send attempt")
        self.assertEqual(len(self.stack.twilio_sent_to(phone)), 1, "Twilio has it once")

    def test_a_connection_lost_after_twilio_accepted_is_not_resent(self):
        phone = random_phone()
        self.stack.twilio_faults(reset_after_accept=1, to="whatsapp:" + phone)
        self.ask(phone)
        self.wait_for(lambda: [e for e in self.stack.escalations("phone", phone) if e["reason"] == "delivery_unknown"],
                      90, "an escalation with reason delivery_unknown")
        self.stack.stays(lambda: len(self.stack.twilio_attempts_to(phone)) == 1, SETTLE_SECONDS, "a single send attempt")

    def test_a_permanent_refusal_is_not_retried(self):
        phone = random_phone()
        self.stack.twilio_faults(reject=1, reject_status=400, reject_code=63016, to="whatsapp:" + phone,
                                 reject_message="Failed to send freeform message because you are outside the "
                                                "allowed window.")
        self.ask(phone)
        self.wait_for(lambda: self.stack.twilio_attempts_to(phone), 60, "the send attempt")
        self.stack.stays(lambda: len(self.stack.twilio_attempts_to(phone)) == 1, SETTLE_SECONDS, "a single attempt")
        statuses = [m["status"] for m in self.stack.messages("phone", phone, "outbound")]
        self.assertEqual(len(statuses), 1)
        self.assertNotIn(statuses[0], ("pending", "sending", "sent", "delivered", "read"), statuses)

    def test_kill_9_between_outbox_write_and_send_sends_exactly_once(self):
        # Twilio refuses every send (429: provably not accepted) and asks for
        # 30 s, so the reply waits in the outbox, back in `pending` with its
        # attempt recorded and no send in flight; then the worker dies. (A
        # kill while a send is in flight is the other case: the row is left
        # `sending`, and that reply must never be sent blindly again — see
        # ReplyDelivery.KilledWhileTwilioHoldsTheSendItIsReconciledNeverResent.)
        phone = random_phone()
        self.stack.twilio_faults(rate_limit=100000, retry_after=30, to="whatsapp:" + phone)
        self.ask(phone)
        self.wait_for(lambda: self.stack.messages("phone", phone, "outbound"), 60, "the reply written to the outbox")
        self.wait_for(lambda: self.stack.twilio_attempts_to(phone), 60, "a refused send attempt")
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound") if m["status"] == "pending"],
                      30, "the refusal recorded, the reply pending again")
        self.stack.suite.kill("agent-worker")
        self.assertEqual(self.stack.twilio_sent_to(phone), [], "nothing accepted before the kill")
        self.stack.twilio_faults(rate_limit=0)
        self.stack.suite.start("agent-worker")
        self.wait_for(lambda: [m for m in self.stack.messages("phone", phone, "outbound")
                               if m["status"] in ("sent", "delivered", "read")], 90, "the reply sent after the restart")
        self.stack.stays(lambda: len(self.stack.twilio_sent_to(phone)) == 1, SETTLE_SECONDS, "exactly one reply sent")
        self.assertEqual(len(self.stack.messages("phone", phone, "outbound")), 1)


class GmailFaults(ChannelTestCase):
    prefix = "rb-gmail"

    def email(self, customer, subject=None, body="How do I reset my password?", **fields):
        delivered = self.stack.email(customer, subject or "Help %s" % nonce(), body, **fields)
        for push in delivered["pushes"]:
            self.assertTrue(push["acked"], push)
        return delivered

    def inbound_count(self, customer):
        return len(self.stack.messages("email", customer, "inbound"))

    def test_two_pushes_for_one_history_id_process_one_email(self):
        customer = "twice.%s@customer.example.org" % nonce()
        delivered = self.email(customer, push_repeat=2)
        # And Pub/Sub redelivering the first push (same messageId).
        self.stack.push(history_id=int(delivered["historyId"]), message_id=delivered["pushes"][0]["message_id"])
        self.wait_for(lambda: self.stack.gmail_sent_to(customer), 60, "the reply")
        self.drained()
        self.stack.stays(lambda: self.inbound_count(customer) == 1, SETTLE_SECONDS, "one inbound email row")
        self.assertEqual(len(self.stack.gmail_sent_to(customer)), 1, "one reply sent")

    def test_a_stale_cursor_is_backfilled_without_gap_or_duplicate(self):
        customers = ["stale%d.%s@customer.example.org" % (i, nonce()) for i in range(5)]
        self.email(customers[0])
        self.wait_for(lambda: self.inbound_count(customers[0]) == 1, 60, "the first email processed")
        self.drained()
        # Two emails arrive while no push gets through, then Gmail forgets the
        # history the cursor points into: the next push finds it stale (404).
        self.email(customers[1], push=False)
        self.email(customers[2], push=False)
        self.stack.gmail.expire_history({"mailbox": "support@example.com"})
        self.email(customers[3])
        for customer in customers[:4]:
            self.wait_for(lambda: self.inbound_count(customer) >= 1, 90, "%s processed after the backfill" % customer)
        # The cursor moved on: the next email is read through history again.
        self.email(customers[4])
        self.wait_for(lambda: self.inbound_count(customers[4]) == 1, 60, "an email after the backfill")
        self.drained()
        for customer in customers:
            self.stack.stays(lambda: self.inbound_count(customer) == 1, 1, "exactly one row for %s" % customer)
        self.assertGreaterEqual(self.stack.gmail.calls.get("GET messages", 0), 1, "the backfill searched messages.list")

    def test_a_push_before_the_message_is_visible_is_retried_not_dropped(self):
        customer = "early.%s@customer.example.org" % nonce()
        self.email(customer, invisible_gets=3)
        self.wait_for(lambda: self.inbound_count(customer) == 1, 120, "the email processed once visible")
        self.wait_for(lambda: self.stack.gmail_sent_to(customer), 60, "the reply")

    def test_a_send_answered_500_after_gmail_stored_it_is_reconciled_not_resent(self):
        customer = "reconcile.%s@customer.example.org" % nonce()
        self.stack.gmail_faults(fail_send_after_store=1, send_faults_to=customer)
        self.email(customer)
        self.wait_for(lambda: [m for m in self.stack.messages("email", customer, "outbound") if m["status"] == "sent"],
                      90, "the reply found in the Sent folder and marked sent")
        self.stack.stays(lambda: len(self.stack.gmail_sent_to(customer)) == 1, SETTLE_SECONDS, "one message in Sent")
        sent = self.stack.gmail_sent_to(customer)[0]
        outbound = self.stack.messages("email", customer, "outbound")[0]
        self.assertEqual(outbound["provider_message_id"], sent["id"])

    def test_an_expired_access_token_is_refreshed(self):
        first = "token1.%s@customer.example.org" % nonce()
        self.email(first)
        self.wait_for(lambda: self.inbound_count(first) == 1, 60, "an email processed")
        grants = self.stack.gmail.token_requests["refresh_token"]
        self.stack.expire_gmail_tokens()  # Gmail now answers 401 to every token issued so far
        second = "token2.%s@customer.example.org" % nonce()
        self.email(second)
        self.wait_for(lambda: self.inbound_count(second) == 1, 60, "an email processed after the 401")
        self.assertGreater(self.stack.gmail.token_requests["refresh_token"], grants)


if __name__ == "__main__":
    unittest.main()
