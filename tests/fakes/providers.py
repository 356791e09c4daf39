#!/usr/bin/python3
"""fte's offline provider simulators: fake Twilio, fake Gmail + Google OAuth2
token endpoint, fake Google JWKS (with Pub/Sub push OIDC token minting), a
Pub/Sub push sender and, with --openai-port, a fake OpenAI-compatible API,
each on its own loopback port.

    /usr/bin/python3 tests/fakes/providers.py --twilio-port 18081 --gmail-port 18082 \
        --jwks-port 18083 --push-endpoint http://127.0.0.1:8080/webhooks/gmail

Port 0 picks a free port. One line "fte provider simulators ready: ..." on
stdout says where each listens; `--env-file` writes the FTE_* variables that
point fte's services at them. Tests use the `Providers` class in-process.
Run with Debian's /usr/bin/python3 (python3-twilio, python3-jwt,
python3-cryptography).
"""

import argparse
import json
import os
import shlex
import signal
import sys
import threading

import fake_gmail
import fake_openai
import fake_twilio
import fakehttp
import google_tokens
import pubsub_push

DEFAULT_ACCOUNT_SID = "AC" + "0f7e10ca1" + "0" * 23
DEFAULT_AUTH_TOKEN = "f7e10ca1" * 4
DEFAULT_WHATSAPP_NUMBER = "+14155238886"  # Twilio's WhatsApp sandbox number
DEFAULT_MAILBOX = "support@example.com"
DEFAULT_CLIENT_ID = "fte-local-client.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "fte-local-client-secret"
DEFAULT_REFRESH_TOKEN = "1//fte-local-refresh-token"
DEFAULT_PUBSUB_TOPIC = "projects/fte-local/topics/gmail"
DEFAULT_MESSAGE_ID_DOMAIN = "support.example.com"


class Providers:
    """All simulators, started together (the OpenAI one only when given a
    port); `service_env()` is what fte's services need to use them."""

    def __init__(self, host="127.0.0.1", twilio_port=0, gmail_port=0, jwks_port=0,
                 account_sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN,
                 whatsapp_number=DEFAULT_WHATSAPP_NUMBER, inbound_url=None, routes=None,
                 mailboxes=(DEFAULT_MAILBOX,), client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET,
                 refresh_token=DEFAULT_REFRESH_TOKEN, gmail_page_size=3, token_lifetime=3599,
                 push_endpoint=None, push_audience=google_tokens.DEFAULT_AUDIENCE,
                 push_service_account=google_tokens.DEFAULT_SERVICE_ACCOUNT, jwks_max_age=19800, quiet=False,
                 log_stream=None, openai_port=None):
        self.host = host
        self.log = fakehttp.Log(quiet, log_stream)
        self.keys = google_tokens.GoogleKeys(max_age=jwks_max_age)
        self.push = pubsub_push.PushSender(push_endpoint, self.keys, push_audience, push_service_account, log=self.log)
        self.twilio = fake_twilio.TwilioFake(account_sid, auth_token, whatsapp_number, inbound_url, routes,
                                             log=self.log)
        self.gmail = fake_gmail.GmailFake(mailboxes, client_id, client_secret, {refresh_token: mailboxes[0].lower()},
                                          token_lifetime=token_lifetime, page_size=gmail_page_size,
                                          list_page_size=gmail_page_size, push=self.push, log=self.log)
        self.refresh_token = refresh_token
        self.servers = {
            "twilio": fakehttp.Server(self.twilio.router(), host, twilio_port, self.log),
            "gmail": fakehttp.Server(self.gmail.router(), host, gmail_port, self.log),
            "jwks": fakehttp.Server(self.keys.router(self.log), host, jwks_port, self.log),
        }
        self.gmail.token_url = self.token_url
        self.openai = None
        if openai_port is not None:
            self.openai = fake_openai.OpenAIFake(log=self.log)
            self.servers["openai"] = fakehttp.Server(self.openai.router(), host, openai_port, self.log)

    @property
    def twilio_url(self):
        return self.servers["twilio"].url

    @property
    def gmail_url(self):
        return self.servers["gmail"].url

    @property
    def token_url(self):
        return self.servers["gmail"].url + "/token"

    @property
    def jwks_url(self):
        return self.servers["jwks"].url + "/oauth2/v3/certs"

    @property
    def openai_url(self):
        return self.servers["openai"].url + "/v1"

    def start(self):
        for server in self.servers.values():
            server.start()
        return self

    def stop(self):
        for server in self.servers.values():
            server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def write_service_account(self, path):
        """The service-account JSON for the JWT-bearer flow (token_uri = this fake)."""
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(self.gmail.service_account_info(self.token_url), out, indent=2)

    def service_env(self, public_base_url=None, service_account_file=None):
        """The FTE_* variables that point fte's services at these simulators
        (PLAN.md, Environment variables)."""
        env = {
            "FTE_TWILIO_API_BASE_URL": self.twilio_url,
            "FTE_TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "FTE_TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "FTE_GOOGLE_JWKS_URL": self.jwks_url,
            "FTE_GMAIL_PUSH_AUDIENCE": self.push.audience,
            "FTE_GMAIL_PUSH_SERVICE_ACCOUNT": self.push.service_account,
            "FTE_GMAIL_API_BASE_URL": self.gmail_url,
            "FTE_GOOGLE_TOKEN_URL": self.token_url,
            "FTE_GMAIL_PUBSUB_TOPIC": DEFAULT_PUBSUB_TOPIC,
            "FTE_REPLY_FROM_EMAIL": self.gmail.initial_mailboxes[0],
            "FTE_MESSAGE_ID_DOMAIN": DEFAULT_MESSAGE_ID_DOMAIN,
            # The simulated Sent folder finds a message the moment it is
            # stored; real Gmail's search can take minutes (ADR 0010), which
            # is why the agent-worker's default is 5 min.
            "FTE_REPLY_EMAIL_RECONCILE_DELAY_MS": "2000",
        }
        if service_account_file:
            env["FTE_GOOGLE_SERVICE_ACCOUNT_FILE"] = service_account_file
        else:
            env.update({"FTE_GMAIL_CLIENT_ID": self.gmail.client_id,
                        "FTE_GMAIL_CLIENT_SECRET": self.gmail.client_secret,
                        "FTE_GMAIL_REFRESH_TOKEN": self.refresh_token})
        if public_base_url:
            env["FTE_PUBLIC_BASE_URL"] = public_base_url
        if self.openai:
            env.update({"FTE_LLM_BASE_URL": self.openai_url, "FTE_EMBEDDINGS_BASE_URL": self.openai_url})
        return env

    def ready_line(self):
        line = ("fte provider simulators ready: twilio %s (account %s), gmail %s (oauth token %s, mailboxes %s), "
                "google jwks %s, pubsub push -> %s" % (
                    self.twilio_url, self.twilio.account_sid, self.gmail_url, self.token_url,
                    ",".join(self.gmail.initial_mailboxes), self.jwks_url, self.push.endpoint or "(none)"))
        if self.openai:
            line += ", openai %s (model %s)" % (self.openai_url, self.openai.model)
        return line


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--twilio-port", type=int, default=0)
    parser.add_argument("--gmail-port", type=int, default=0, help="Gmail API and the OAuth2 token endpoint")
    parser.add_argument("--jwks-port", type=int, default=0)
    parser.add_argument("--openai-port", type=int, help="also serve the fake OpenAI-compatible API (0: any free port)")
    parser.add_argument("--twilio-account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--twilio-auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--whatsapp-number", default=DEFAULT_WHATSAPP_NUMBER, help="our number (E.164)")
    parser.add_argument("--inbound-url", help="where inbound WhatsApp webhooks go (the gateway's public URL)")
    parser.add_argument("--route", action="append", default=[], metavar="PUBLIC=LOCAL",
                        help="deliver webhooks for PUBLIC (signed as such) to LOCAL, like a load balancer")
    parser.add_argument("--mailbox", action="append", help="a Gmail mailbox (repeatable) [%s]" % DEFAULT_MAILBOX)
    parser.add_argument("--gmail-client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--gmail-client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--gmail-refresh-token", default=DEFAULT_REFRESH_TOKEN)
    parser.add_argument("--gmail-page-size", type=int, default=3, help="largest page history/list return")
    parser.add_argument("--token-lifetime", type=int, default=3599, help="access token expires_in, seconds")
    parser.add_argument("--push-endpoint", help="the gateway's /webhooks/gmail URL Pub/Sub pushes to")
    parser.add_argument("--push-audience", default=google_tokens.DEFAULT_AUDIENCE)
    parser.add_argument("--push-service-account", default=google_tokens.DEFAULT_SERVICE_ACCOUNT)
    parser.add_argument("--jwks-max-age", type=int, default=19800, help="Cache-Control max-age of the JWKS")
    parser.add_argument("--public-base-url", help="FTE_PUBLIC_BASE_URL written to --env-file")
    parser.add_argument("--service-account-file", help="write a service-account JSON for the JWT-bearer flow here")
    parser.add_argument("--env-file", help="write `export FTE_...=...` lines for the services here")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    routes = dict(r.split("=", 1) for r in args.route)
    providers = Providers(args.host, args.twilio_port, args.gmail_port, args.jwks_port, args.twilio_account_sid,
                          args.twilio_auth_token, args.whatsapp_number, args.inbound_url, routes,
                          tuple(args.mailbox or [DEFAULT_MAILBOX]), args.gmail_client_id, args.gmail_client_secret,
                          args.gmail_refresh_token, args.gmail_page_size, args.token_lifetime, args.push_endpoint,
                          args.push_audience, args.push_service_account, args.jwks_max_age, args.quiet,
                          openai_port=args.openai_port)
    if args.service_account_file:
        providers.write_service_account(args.service_account_file)
    if args.env_file:
        env = providers.service_env(args.public_base_url)
        with open(args.env_file, "w") as out:
            out.write("# Written by tests/fakes/providers.py: fte's services -> the offline provider simulators\n")
            for name, value in sorted(env.items()):
                out.write("export %s=%s\n" % (name, shlex.quote(value)))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    providers.start()
    print(providers.ready_line(), flush=True)
    while not stopping.wait(1.0):
        pass
    providers.stop()
    print("fte provider simulators stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
