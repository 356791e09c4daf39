"""A Suite wired to the provider simulators, for the channel tests.

The gateway's public address is https://support.example.test (what Twilio
signs and Pub/Sub's token audience names); the simulators deliver requests
for it to the gateway's local port, as a load balancer would. The services
get the simulators' URLs and credentials (providers.service_env). Requests
the tests send are signed with Twilio's own helper library and Google-style
tokens minted by tests/fakes, never with fte's code.
"""

import itertools
import os
import random
import re
import subprocess
import tempfile
import time
import unittest
import uuid

import fake_twilio
import fte_stack
import providers
import twilio_webhook

PUBLIC_BASE_URL = "https://support.example.test"
WHATSAPP_WEBHOOK = PUBLIC_BASE_URL + "/webhooks/twilio/whatsapp"
STATUS_WEBHOOK = PUBLIC_BASE_URL + "/webhooks/twilio/status"
GMAIL_WEBHOOK = PUBLIC_BASE_URL + "/webhooks/gmail"
MAILBOX = providers.DEFAULT_MAILBOX

MESSAGE_COLUMNS = ("id", "direction", "channel", "status", "sender", "subject", "body", "provider_message_id",
                   "conversation_id", "ticket_id", "customer_id")


def nonce():
    return uuid.uuid4().hex[:8]


_phones = itertools.count(random.randint(0, 8999))


def random_phone():
    """A US number libphonenumber takes as valid (a 555 exchange in a real
    area code), different on each call of a run."""
    return "+1415555%04d" % (next(_phones) % 10000)


class ChannelStack:
    def __init__(self, extra_env=None, prefix="channels", gmail_page_size=3, watch_gmail=True):
        self.log_path = os.path.join(tempfile.gettempdir(), "%s.providers.log" % fte_stack.unique_name(prefix))
        self.log_file = open(self.log_path, "a")
        self.providers = providers.Providers(push_audience=GMAIL_WEBHOOK, gmail_page_size=gmail_page_size,
                                             log_stream=self.log_file).start()
        self.suite = None
        try:
            env = self.providers.service_env(PUBLIC_BASE_URL)
            env.update(extra_env or {})
            self.suite = fte_stack.Suite(env, prefix=prefix)
            gateway = "http://127.0.0.1:%d" % self.suite.gateway_port
            self.providers.twilio.routes.routes[PUBLIC_BASE_URL] = gateway
            self.providers.twilio.inbound_url = WHATSAPP_WEBHOOK
            self.providers.push.configure({"endpoint": gateway + "/webhooks/gmail"})
            if watch_gmail:
                self.gmail_watch()
        except BaseException:
            self.close()
            raise

    @property
    def twilio(self):
        return self.providers.twilio

    @property
    def gmail(self):
        return self.providers.gmail

    @property
    def keys(self):
        return self.providers.keys

    @property
    def db(self):
        return self.suite.database

    def close(self):
        if self.suite:
            self.suite.close()
        self.providers.stop()
        self.log_file.close()

    def reset_faults(self):
        """Every simulator back to its well-behaved defaults (records are kept)."""
        with self.twilio.lock:
            self.twilio.faults = fake_twilio.Faults()
            self.twilio.plan = fake_twilio.CallbackPlan()
        with self.gmail.lock:
            for name in self.gmail.faults:
                self.gmail.faults[name] = 0
            self.gmail.send_faults_to = None
            self.gmail.push_on_send = False
        self.providers.push.configure({"retries": 3, "backoff_s": 0.5})

    def twilio_faults(self, **faults):
        """Faults of the fake Twilio; `to` (whatsapp:+...) keeps them to one recipient."""
        with self.twilio.lock:
            self.twilio.faults.update(faults)

    def twilio_callbacks(self, **plan):
        with self.twilio.lock:
            self.twilio.plan.update(plan)

    def gmail_faults(self, send_faults_to=None, **faults):
        """Faults of the fake Gmail; `send_faults_to` keeps send faults to one recipient."""
        with self.gmail.lock:
            self.gmail.send_faults_to = send_faults_to
            for name, value in faults.items():
                if name not in self.gmail.faults:
                    raise KeyError(name)
                self.gmail.faults[name] = int(value)

    def expire_gmail_tokens(self):
        with self.gmail.lock:
            for info in self.gmail.tokens.values():
                info["expires"] = 0

    # ----- what failure messages show ---------------------------------------

    def logs(self):
        try:
            with open(self.log_path) as f:
                simulators = f.read()[-4000:]
        except OSError:
            simulators = ""
        return "%s----- provider simulators (%s)\n%s" % (self.suite.logs() if self.suite else "", self.log_path,
                                                        simulators)

    def wait_for(self, condition, timeout, what):
        """`condition`'s result once true; fails with `what` and the logs otherwise."""
        result = fte_stack.eventually(condition, timeout, 0.1)
        if not result:
            raise AssertionError("%s: not within %ss\n%s" % (what, timeout, self.logs()))
        return result

    def stays(self, condition, seconds, what):
        """Fails if `condition` stops holding during `seconds` (no late duplicate)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not condition():
                raise AssertionError("%s stopped holding\n%s" % (what, self.logs()))
            time.sleep(0.2)

    # ----- Gmail set-up -------------------------------------------------------

    def gmail_watch(self):
        """`fte gmail watch` as an operator runs it: starts the mailbox's watch
        and sets its history cursor."""
        cli = fte_stack.cli_path()
        env = dict(self.suite.env)
        help_text = subprocess.run([cli, "gmail", "watch", "--help"], env=env, capture_output=True, text=True,
                                   timeout=60)
        if help_text.returncode != 0:
            raise AssertionError("`fte gmail watch --help` failed (%d): %s%s" % (
                help_text.returncode, help_text.stdout, help_text.stderr))
        usage = help_text.stdout + help_text.stderr
        args = [cli, "gmail", "watch"]
        if "--mailbox" in usage:
            args += ["--mailbox", MAILBOX]
        elif re.search(r"usage:[^\n]*\bmailbox\b", usage, re.IGNORECASE):
            args.append(MAILBOX)  # a positional argument
        before = self.gmail.mailbox(MAILBOX).watch_calls
        result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or self.gmail.mailbox(MAILBOX).watch_calls <= before:
            raise AssertionError("%s did not start the watch (exit %d): %s%s\n%s" % (
                " ".join(args[1:]), result.returncode, result.stdout, result.stderr, self.logs()))

    # ----- the outside world writing in --------------------------------------

    def whatsapp(self, sender, body, profile_name="Test Customer", repeat=1, message_sid=None, media=(), token=None):
        """A signed inbound WhatsApp message (Twilio's retries: `repeat`);
        returns (params, [answers])."""
        params = twilio_webhook.inbound_message_params(self.twilio.account_sid, sender, self.twilio.whatsapp_number,
                                                       body, profile_name, media, message_sid)
        signature = twilio_webhook.sign(token or self.twilio.auth_token, WHATSAPP_WEBHOOK, params)
        idempotency = str(uuid.uuid4())
        answers = [self.post_twilio(WHATSAPP_WEBHOOK, params, signature, idempotency_token=idempotency)
                   for _ in range(repeat)]
        return params, answers

    def post_twilio(self, url, params, signature, idempotency_token=None, extra_headers=None):
        """POSTs a form as Twilio would to the public `url` (delivered to the
        gateway), with `signature` as X-Twilio-Signature (None: no header)."""
        return twilio_webhook.post_signed(url, params, signature=signature,
                                          connect_url=self.twilio.routes.resolve(url),
                                          idempotency_token=idempotency_token, extra_headers=extra_headers)

    def email(self, sender, subject, body, **fields):
        """An email arrives in the support mailbox and Pub/Sub pushes it;
        returns the simulator's record (id, threadId, historyId,
        message_id_header, pushes)."""
        fields.update({"from": sender, "subject": subject, "body": body, "mailbox": MAILBOX,
                       "to": fields.get("to", MAILBOX)})
        return self.gmail.deliver(fields)

    def push(self, **kwargs):
        """One Pub/Sub push for the support mailbox (its current history id unless given)."""
        kwargs.setdefault("mailbox", MAILBOX)
        return self.gmail.send_push(kwargs)[0]

    # ----- what fte did ---------------------------------------------------------

    def messages(self, kind, value, direction=None):
        """The messages rows of the customer with identifier (kind, value), oldest first."""
        sql = ("SELECT " + ", ".join("m.%s::text" % c for c in MESSAGE_COLUMNS) +
               " FROM messages m JOIN customer_identifiers ci ON ci.customer_id = m.customer_id"
               " WHERE ci.kind = :'kind' AND ci.value = :'value'"
               + (" AND m.direction = :'direction'" if direction else "") +
               " ORDER BY m.created_at, m.id")
        variables = {"kind": kind, "value": value}
        if direction:
            variables["direction"] = direction
        return [dict(zip(MESSAGE_COLUMNS, row)) for row in self.db.rows(sql, **variables)]

    def escalations(self, kind, value):
        sql = ("SELECT e.reason, e.status FROM escalations e JOIN customer_identifiers ci"
               " ON ci.customer_id = e.customer_id WHERE ci.kind = :'kind' AND ci.value = :'value'")
        return [{"reason": r[0], "status": r[1]} for r in self.db.rows(sql, kind=kind, value=value)]

    def twilio_sent_to(self, phone):
        return [m for m in self.twilio.sent_messages() if m["to"] == twilio_webhook.whatsapp(phone)]

    def twilio_attempts_to(self, phone):
        with self.twilio.lock:
            return [a for a in self.twilio.attempts if ("To", twilio_webhook.whatsapp(phone)) in a["params"]]

    def gmail_sent_to(self, address):
        return [m for m in self.gmail.sent(MAILBOX) if address.lower() in m["to"].lower()]


class ChannelTestCase(unittest.TestCase):
    """One ChannelStack per test class; simulators' faults reset before each test."""

    extra_env = {}
    prefix = "channels"
    watch_gmail = True  # run `fte gmail watch` first, as the production setup does
    stack = None

    @classmethod
    def setUpClass(cls):
        cls.stack = ChannelStack(cls.extra_env, prefix=cls.prefix, watch_gmail=cls.watch_gmail)
        cls.addClassCleanup(cls.stack.close)

    def setUp(self):
        self.stack.reset_faults()

    def wait_for(self, condition, timeout, what):
        return self.stack.wait_for(condition, timeout, what)

    def drained(self, timeout=60):
        if not self.stack.suite.wait_until_drained(timeout):
            self.fail("the pipeline did not drain within %ss\n%s" % (timeout, self.stack.logs()))
