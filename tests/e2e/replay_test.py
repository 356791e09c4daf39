"""fte replay against the real stack (issue 9, ADR 0013): WhatsApp messages
go through the four services and the Twilio simulator; then the customer's
records are replayed into a sandbox (nothing sent, no live row touched, the
same decisions), into a sandbox whose knowledge base was edited (diff shows
exactly the message that article answered), and live (three new traceable
effects, nothing for anyone else)."""

import json
import os
import subprocess
import time
import unittest

import fte_stack
from channels import ChannelTestCase, nonce, random_phone

MESSAGE_TYPE = "fte.ticket.message.received.v1"
# What a sandbox could write if it leaked into the live database. Not the
# live groups' processed_messages or outbox: the live pipeline keeps applying
# Twilio's delivery callbacks meanwhile, which is none of the sandbox's doing.
LIVE_TABLES = ("customers", "customer_identifiers", "conversations", "tickets", "messages", "escalations")


class Replay(ChannelTestCase):
    prefix = "e2e-replay"
    watch_gmail = False

    # ----- helpers ------------------------------------------------------------

    def fte(self, *args, expect=0, timeout=300):
        env = dict(os.environ)
        env.update({"FTE_KAFKA_BOOTSTRAP": fte_stack.kafka_bootstrap(),
                    "FTE_DATABASE_URL": self.stack.db.url,
                    "FTE_TOPIC_PREFIX": self.stack.suite.prefix,
                    "FTE_ACTOR": "replay-test"})
        result = subprocess.run([fte_stack.cli_path(), *args], env=env, capture_output=True, text=True,
                                timeout=timeout, stdin=subprocess.DEVNULL)
        if expect is not None:
            self.assertEqual(result.returncode, expect, "fte %s\nstdout: %s\nstderr: %s" % (
                " ".join(args), result.stdout[-3000:], result.stderr[-3000:]))
        return result

    def fte_json(self, *args):
        return json.loads(self.fte(*args, "--json").stdout)

    def remove_sandbox(self, name):
        self.fte("replay", "rm", name, expect=None)

    def ask(self, phone, text):
        _, answers = self.stack.whatsapp(phone, text, profile_name="Replay Customer")
        for answer in answers:
            self.assertEqual(answer.status, 200, answer.body)

    def conversation(self, phone, questions, replies):
        """Sends the questions one at a time and waits until the pipeline has
        answered `replies` of them through Twilio and drained."""
        for q in questions:
            self.ask(phone, q)
        self.wait_for(lambda: len(self.stack.messages("phone", phone, "inbound")) == len(questions) or None, 60,
                      "%d inbound rows of %s" % (len(questions), phone))
        self.wait_for(lambda: len(self.stack.twilio_sent_to(phone)) == replies or None, 60,
                      "%d replies to %s at Twilio" % (replies, phone))
        self.drained()

    def live_counts(self):
        counts = {t: self.stack.db.count("SELECT count(*) FROM %s" % t) for t in LIVE_TABLES}
        # No sandbox consumer group ever claims an event in the live database.
        counts["sandbox_claims"] = self.stack.db.count(
            "SELECT count(*) FROM processed_messages WHERE consumer_group LIKE '%fte.sandbox.%'")
        return counts

    def sandbox_db(self, name):
        database = self.stack.db.value("SELECT database_name FROM replays WHERE name = :'n' AND status <> 'removed'",
                                       n=name)
        self.assertTrue(database, "no replays row for sandbox %s" % name)
        return fte_stack.Database(fte_stack.with_database(self.stack.db.url, database)), database

    def correlation_of(self, phone, text):
        rows = [m for m in self.stack.messages("phone", phone, "inbound") if m["body"] == text]
        self.assertEqual(len(rows), 1, rows)
        return self.stack.db.value("SELECT correlation_id FROM messages WHERE id = :'id'", id=rows[0]["id"])

    # ----- tests --------------------------------------------------------------

    def test_sandbox_reproduces_decisions_sends_nothing_and_diff_shows_a_knowledge_base_edit(self):
        phone, other = random_phone(), random_phone()
        password = "How do I reset my password? (ref %s)" % nonce()
        invoices = "Where can I download my invoices? (ref %s)" % nonce()
        refund = "I want a refund for the double charge (ref %s)" % nonce()
        self.conversation(phone, [password, invoices, refund], replies=2)
        self.conversation(other, ["How long does shipping take? (ref %s)" % nonce()], replies=1)
        before = self.live_counts()
        sent_before = len(self.twilio_all())

        name = "same" + nonce()[:6]
        self.addCleanup(self.remove_sandbox, name)
        outcome = self.fte_json("replay", "--name", name, "--customer", phone, "--type", MESSAGE_TYPE)
        self.assertEqual((outcome["inbound_messages"], outcome["replies"], outcome["escalations"],
                          outcome["dead_lettered"]), (3, 2, 1, 0), outcome)
        # Nothing was sent and no live row was written while it ran.
        self.assertEqual(self.live_counts(), before)
        self.assertEqual(len(self.twilio_all()), sent_before)
        sandbox, database = self.sandbox_db(name)
        self.assertEqual(sandbox.count("SELECT count(*) FROM messages WHERE direction = 'outbound' "
                                       "AND status <> 'pending'"), 0, "a sandbox reply left the pending state")
        self.assertEqual(sandbox.count("SELECT count(*) FROM customers"), 1, "only the selected customer's state")

        diff = self.fte_json("replay", "diff", name)
        self.assertEqual((diff["summary"]["messages"], diff["summary"]["same"], diff["summary"]["changed"]), (3, 3, 0),
                         diff["summary"])
        self.assertEqual({m["status"] for m in diff["messages"]}, {"same"})

        # Edit the article that answered the password question, in a second
        # sandbox held before it runs; only that message changes.
        article = self.stack.db.value(
            "SELECT o.kb_article_id FROM messages o JOIN messages i ON i.source_event_id = o.source_event_id "
            "AND i.direction = 'inbound' WHERE o.direction = 'outbound' AND i.body = :'body'", body=password)
        self.assertTrue(article)
        edited = "kb" + nonce()[:6]
        self.addCleanup(self.remove_sandbox, edited)
        held = self.fte("replay", "--name", edited, "--customer", phone, "--type", MESSAGE_TYPE, "--hold")
        self.assertIn("fte replay run " + edited, held.stdout)
        edited_db, _ = self.sandbox_db(edited)
        self.assertEqual(edited_db.count("SELECT count(*) FROM messages"), 0, "a held sandbox has not run")
        edited_db.rows("UPDATE knowledge_base SET body = 'To reset your password, open Settings, then Security, "
                       "then Reset password, and follow the link in the email we send you.' WHERE id = :'id'",
                       id=article)
        rerun = self.fte_json("replay", "run", edited)
        self.assertEqual(rerun["inbound_messages"], 3, rerun)
        diff = self.fte_json("replay", "diff", edited)
        changed = {m["correlation_id"] for m in diff["messages"] if m["status"] == "changed"}
        self.assertEqual(changed, {self.correlation_of(phone, password)}, diff)
        self.assertEqual((diff["summary"]["same"], diff["summary"]["changed"]), (2, 1), diff["summary"])
        # Running it again (reset, the edited knowledge base kept) decides the same.
        again = self.fte_json("replay", "run", edited)
        self.assertEqual(again["inbound_messages"], 3, again)
        self.assertEqual(self.fte_json("replay", "diff", edited)["summary"]["changed"], 1)

        self.assertEqual(self.live_counts(), before)
        self.assertEqual(len(self.twilio_all()), sent_before)

        # The later stages find the rows the earlier ones made: the escalation
        # service, replayed alone, files the same escalation.
        escalations = "esc" + nonce()[:6]
        self.addCleanup(self.remove_sandbox, escalations)
        outcome = self.fte_json("replay", "--name", escalations, "--customer", phone, "--topic", "fte.escalations")
        self.assertEqual((outcome["escalations"], outcome["dead_lettered"]), (1, 0), outcome)
        esc_db, _ = self.sandbox_db(escalations)
        self.assertEqual(esc_db.rows("SELECT reason, source_event_id FROM escalations"),
                         self.stack.db.rows("SELECT e.reason, e.source_event_id FROM escalations e JOIN "
                                            "customer_identifiers i ON i.customer_id = e.customer_id "
                                            "WHERE i.value = :'phone'", phone=phone))

        # rm: topics, groups and database gone, the audit row says removed.
        self.fte("replay", "rm", name)
        self.assertEqual(self.stack.db.count("SELECT count(*) FROM pg_database WHERE datname = :'d'", d=database), 0)
        self.assertEqual(self.stack.db.value("SELECT status FROM replays WHERE name = :'n'", n=name), "removed")
        # Topic deletion completes in the background: wait until metadata lists none.
        sandbox_prefix = self.stack.suite.prefix + "fte.sandbox." + name + "."
        kafka = fte_stack.kafka_wire.Kafka(fte_stack.kafka_bootstrap())
        self.wait_for(lambda: not [t for t in kafka.metadata(None)["topics"] if t.startswith(sandbox_prefix)] or None,
                      30, "the sandbox topics deleted")
        audit = self.stack.db.rows("SELECT target, requested_by, records_selected, customers FROM replays "
                                   "WHERE name = :'n'", n=edited)
        self.assertEqual(audit, [["sandbox", "replay-test", "3", "1"]])

    def test_live_replay_of_one_customer_creates_new_traceable_effects_and_nothing_else(self):
        phone, other = random_phone(), random_phone()
        questions = ["How do I reset my password? (ref %s)" % nonce(),
                     "Where can I download my invoices? (ref %s)" % nonce(),
                     "How long does shipping take? (ref %s)" % nonce()]
        self.conversation(phone, questions, replies=3)
        self.conversation(other, ["How do I export my data? (ref %s)" % nonce()], replies=1)
        # Delivery callbacks may still move the other reply's status: compare rows, not statuses.
        other_rows = [(m["id"], m["direction"]) for m in self.stack.messages("phone", other)]
        other_sent = len(self.stack.twilio_sent_to(other))

        # Without a terminal and without --yes it asks no one and does nothing.
        refused = self.fte("replay", "--live", "--customer", phone, "--type", MESSAGE_TYPE, expect=2)
        self.assertIn("--yes", refused.stderr)
        self.assertEqual(self.stack.db.count("SELECT count(*) FROM replays WHERE target = 'live'"), 0)

        # The tickets topic carries the replies' delivery updates too: the
        # three messages are the records of the message type.
        outcome = self.fte_json("replay", "--live", "--customer", phone, "--type", MESSAGE_TYPE, "--yes")
        self.assertEqual((outcome["records"], outcome["customers"]), (3, 1), outcome)
        replay_id = outcome["replay_id"]
        self.wait_for(lambda: len(self.stack.messages("phone", phone, "inbound")) == 6 or None, 60,
                      "three more inbound rows")
        self.wait_for(lambda: len(self.stack.twilio_sent_to(phone)) == 6 or None, 60, "three more replies")
        self.drained()

        # Each new effect names its replayed record, which names the original.
        mapping = self.stack.db.rows("SELECT original_event_id, new_event_id FROM replay_records "
                                     "WHERE replay_id = :'id' ORDER BY \"offset\"", id=replay_id)
        self.assertEqual(len(mapping), 3)
        for original, new in mapping:
            self.assertNotEqual(original, new)
            rows = self.stack.db.rows("SELECT direction, correlation_id FROM messages WHERE source_event_id = :'id' "
                                      "ORDER BY direction", id=new)
            self.assertEqual([r[0] for r in rows], ["inbound", "outbound"], rows)
            original_correlation = self.stack.db.value(
                "SELECT correlation_id FROM messages WHERE source_event_id = :'id' AND direction = 'inbound'",
                id=original)
            self.assertEqual(rows[0][1], original_correlation, "the replay keeps the message's correlation id")
        self.assertEqual(self.stack.db.rows("SELECT target, status, requested_by, records_copied FROM replays "
                                            "WHERE id = :'id'", id=replay_id),
                         [["live", "done", "replay-test", "3"]])
        # Nothing for the other customer.
        self.assertEqual([(m["id"], m["direction"]) for m in self.stack.messages("phone", other)], other_rows)
        self.assertEqual(len(self.stack.twilio_sent_to(other)), other_sent)

    def test_bad_input_fails_with_a_clear_message(self):
        cases = [
            (("replay", "--from", "-1h", "--to", "-2h"), 2, "inverted"),
            (("replay", "--topic", "fte.nope"), 2, "unknown topic"),
            (("replay", "--topic", "fte.dlq"), 2, "fte dlq redrive"),
            (("replay", "--topic", "fte.channels.webform.inbound", "--topic", "fte.tickets.incoming"), 2, "one stage"),
            (("replay", "--from", "yesterday"), 2, "RFC 3339"),
            (("replay", "--customer", "+19995550000"), 2, "no customer"),
            (("replay", "--name", "Bad Name"), 2, "sandbox name"),
            (("replay", "--correlation-id", "no-such-message", "--from", "-5m"), 1, "selection is empty"),
            (("replay", "rm", "never-made"), 2, "no sandbox named"),
            (("replay", "diff", "never-made"), 2, "no sandbox named"),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                result = self.fte(*args, expect=code)
                self.assertIn(message, result.stderr)
        unreachable = self.fte("--bootstrap", "127.0.0.1:1", "replay", "--from", "-5m", expect=1, timeout=120)
        self.assertIn("127.0.0.1:1", unreachable.stderr)

    def twilio_all(self):
        return self.stack.twilio.sent_messages()


if __name__ == "__main__":
    unittest.main()
