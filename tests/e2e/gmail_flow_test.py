"""Gmail end to end: an email lands in the (fake) support mailbox, Pub/Sub
pushes a notification with a Google-style OIDC token, the normalizer reads
history and fetches the raw message, the agent answers, and the reply goes
out through Gmail's messages.send in the customer's thread; the customer's
answer to that reply continues the same conversation."""

import re
import unittest

from channels import MAILBOX, ChannelTestCase, nonce


class GmailFlow(ChannelTestCase):
    prefix = "e2e-gmail"

    def send_email(self, sender, subject, body, **fields):
        delivered = self.stack.email(sender, subject, body, **fields)
        self.assertEqual(len(delivered["pushes"]), 1)
        self.assertEqual(delivered["pushes"][0]["attempts"][-1]["status"], 204, delivered["pushes"])
        return delivered

    def inbound(self, address, count):
        return self.wait_for(lambda: (lambda rows: rows if len(rows) >= count else None)(
            self.stack.messages("email", address, "inbound")), 60, "%d inbound email row(s) of %s" % (count, address))

    def sent_to(self, address, count):
        return self.wait_for(lambda: (lambda sent: sent if len(sent) >= count else None)(
            self.stack.gmail_sent_to(address)), 60, "%d reply(ies) to %s through Gmail" % (count, address))

    def test_push_fetch_reply_in_thread_and_the_answer_continues_the_conversation(self):
        self.stack.gmail.push_on_send = True  # Gmail notifies our own sends too; fte must skip them
        ref = nonce()
        customer = "ada.%s@customer.example.org" % ref
        subject = "Password help %s" % ref
        first = self.send_email('"Ada Lovelace" <%s>' % customer.upper().replace("@CUSTOMER", "@Customer"), subject,
                                "Hello,\n\nHow do I reset my password? I forgot it.\n\nAda\n",
                                message_id="<q-%s@customer.example.org>" % ref)

        row = self.inbound(customer, 1)[0]
        self.assertEqual(row["channel"], "email")
        self.assertIn("reset my password", row["body"])
        self.assertEqual(self.stack.db.value("SELECT display_name FROM customers WHERE id = :'id'",
                                             id=row["customer_id"]), "Ada Lovelace")

        reply = self.sent_to(customer, 1)[0]
        self.assertEqual(reply["threadId"], first["threadId"], "the reply is in the customer's thread")
        self.assertEqual(reply["in_reply_to"], first["message_id_header"])
        self.assertIn(first["message_id_header"], reply["references"])
        self.assertEqual(reply["subject"], "Re: " + subject)
        self.assertIn(MAILBOX, reply["from"].lower())
        self.assertRegex(reply["message_id"], r"^<reply-[^@>]+@support\.example\.com>$", "deterministic Message-ID")
        self.assertTrue(reply["text"].strip())
        outbound = self.wait_for(lambda: [m for m in self.stack.messages("email", customer, "outbound")
                                          if m["status"] == "sent"], 60, "the reply row sent")[0]
        self.assertEqual(outbound["provider_message_id"], reply["id"])
        self.assertEqual(outbound["conversation_id"], row["conversation_id"])

        # The customer answers our reply (quoting it, as mail clients do).
        quoted = "\n".join("> " + line for line in reply["text"].splitlines())
        second = self.send_email(customer, "Re: " + subject,
                                 "Thanks! And how do I export my data?\n\nOn Mon, 1 Jan 2024, Support wrote:\n" + quoted,
                                 in_reply_to=reply["message_id"],
                                 references=[first["message_id_header"], reply["message_id"]])
        self.assertEqual(second["threadId"], first["threadId"])
        rows = self.inbound(customer, 2)
        self.assertEqual(rows[1]["conversation_id"], rows[0]["conversation_id"], "the same conversation")
        self.assertIn("export my data", rows[1]["body"])
        first_reply_line = next(line for line in reply["text"].splitlines() if line.strip())
        self.assertNotIn(first_reply_line.strip(), rows[1]["body"], "quoted history is trimmed")
        second_reply = self.sent_to(customer, 2)[1]
        self.assertEqual(second_reply["threadId"], first["threadId"])
        self.assertEqual(second_reply["in_reply_to"], second["message_id_header"])

        # Our own replies (in history, and pushed) never come back as customer messages.
        self.drained()
        self.stack.stays(lambda: len(self.stack.messages("email", customer, "inbound")) == 2, 3, "two inbound rows")
        self.assertEqual(self.stack.db.count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND "
                                             "lower(sender) LIKE :'m'", m="%" + MAILBOX + "%"), 0)

    def test_an_html_only_email_is_read_as_text(self):
        customer = "grace.%s@customer.example.org" % nonce()
        self.send_email(customer, "Export", None, html="<html><body><p>How do I <b>export</b> my data?</p>"
                                                     "<script>alert(1)</script></body></html>")
        body = self.inbound(customer, 1)[0]["body"]
        self.assertIn("How do I export my data?", re.sub(r"\s+", " ", body))
        self.assertNotIn("<", body)
        self.assertNotIn("alert", body)


if __name__ == "__main__":
    unittest.main()
