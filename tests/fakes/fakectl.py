#!/usr/bin/python3
"""Drives running provider simulators (tests/fakes/providers.py) through
their control APIs: make Twilio send a signed inbound WhatsApp message, make
Gmail receive an email (and Pub/Sub push it), read what fte sent back, mint
Pub/Sub OIDC tokens. Prints JSON.

    fakectl.py --twilio http://127.0.0.1:18081 whatsapp-inbound --from +15551230001 --body "Hi"
    fakectl.py --twilio http://127.0.0.1:18081 twilio-wait --to whatsapp:+15551230001 --status delivered
    fakectl.py --gmail http://127.0.0.1:18082 gmail-deliver --from "Ada <ada@example.org>" --subject Hi --body Hello
    fakectl.py --gmail http://127.0.0.1:18082 gmail-wait-sent --to ada@example.org
    fakectl.py --jwks http://127.0.0.1:18083 mint --case expired
"""

import argparse
import json
import sys
import time
import urllib.parse

import fakehttp


def call(base, method, path, body=None):
    if not base:
        raise SystemExit("fakectl: give the simulator's URL (--twilio, --gmail or --jwks)")
    data = json.dumps(body).encode("utf-8") if body is not None else b""
    answer = fakehttp.http_call(method, base.rstrip("/") + path, data, {"Content-Type": "application/json"})
    if answer.status != 200:
        raise SystemExit("fakectl: %s %s -> %s %s%s" % (method, path, answer.status, answer.body,
                                                        answer.error or ""))
    return json.loads(answer.body)


def wait(fetch, predicate, timeout, what):
    deadline = time.time() + timeout
    while True:
        found = [item for item in fetch() if predicate(item)]
        if found:
            return found
        if time.time() >= deadline:
            raise SystemExit("fakectl: no %s within %ss" % (what, timeout))
        time.sleep(0.2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--twilio", help="fake Twilio base URL")
    parser.add_argument("--gmail", help="fake Gmail base URL")
    parser.add_argument("--jwks", help="fake Google JWKS base URL")
    commands = parser.add_subparsers(dest="command", required=True)

    inbound = commands.add_parser("whatsapp-inbound", help="Twilio posts a signed inbound WhatsApp message")
    inbound.add_argument("--from", dest="sender", required=True, help="customer's number, E.164")
    inbound.add_argument("--body", required=True)
    inbound.add_argument("--profile-name", default="Test Customer")
    inbound.add_argument("--to", help="our number (default: the simulator's)")
    inbound.add_argument("--url", help="webhook URL (default: the simulator's --inbound-url)")
    inbound.add_argument("--repeat", type=int, default=1, help="send the same MessageSid N times (Twilio retries)")

    messages = commands.add_parser("twilio-messages", help="what fte sent through the Twilio API")
    messages.add_argument("--to")

    twait = commands.add_parser("twilio-wait", help="wait for a message fte sent through Twilio")
    twait.add_argument("--to", required=True, help="whatsapp:+E.164")
    twait.add_argument("--status", help="wait until its status is this (delivered, read, ...)")
    twait.add_argument("--timeout", type=float, default=30)

    deliver = commands.add_parser("gmail-deliver", help="an email arrives in the fake mailbox (then Pub/Sub pushes)")
    deliver.add_argument("--mailbox")
    deliver.add_argument("--from", dest="sender", required=True)
    deliver.add_argument("--to")
    deliver.add_argument("--subject", required=True)
    deliver.add_argument("--body", required=True)
    deliver.add_argument("--in-reply-to")
    deliver.add_argument("--no-push", action="store_true")

    sent = commands.add_parser("gmail-sent", help="what fte sent through the Gmail API")
    sent.add_argument("--mailbox")

    gwait = commands.add_parser("gmail-wait-sent", help="wait for a message fte sent through Gmail")
    gwait.add_argument("--to", required=True)
    gwait.add_argument("--mailbox")
    gwait.add_argument("--timeout", type=float, default=30)

    mint = commands.add_parser("mint", help="a Pub/Sub push OIDC token (good or bad)")
    mint.add_argument("--case", default="valid")
    mint.add_argument("--audience")
    mint.add_argument("--email")

    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "whatsapp-inbound":
        body = {"from": args.sender, "body": args.body, "profile_name": args.profile_name, "repeat": args.repeat}
        if args.to:
            body["to"] = args.to
        if args.url:
            body["url"] = args.url
        out = call(args.twilio, "POST", "/_control/inbound", body)
    elif args.command == "twilio-messages":
        out = [m for m in call(args.twilio, "GET", "/_control/messages")["messages"]
               if not args.to or m["to"] == args.to]
    elif args.command == "twilio-wait":
        out = wait(lambda: call(args.twilio, "GET", "/_control/messages")["messages"],
                   lambda m: m["to"] == args.to and (not args.status or m["status"] == args.status),
                   args.timeout, "message to %s%s" % (args.to, " with status " + args.status if args.status else ""))
    elif args.command == "gmail-deliver":
        body = {"from": args.sender, "subject": args.subject, "body": args.body}
        for name, value in (("mailbox", args.mailbox), ("to", args.to or args.mailbox), ("in_reply_to", args.in_reply_to)):
            if value:
                body[name] = value
        if args.in_reply_to:
            body["references"] = [args.in_reply_to]
        if args.no_push:
            body["push"] = False
        out = call(args.gmail, "POST", "/_control/gmail/deliver", body)
    elif args.command in ("gmail-sent", "gmail-wait-sent"):
        query = "?mailbox=" + urllib.parse.quote(args.mailbox) if args.mailbox else ""

        def fetch():
            return call(args.gmail, "GET", "/_control/gmail/sent" + query)["sent"]

        if args.command == "gmail-sent":
            out = fetch()
        else:
            out = wait(fetch, lambda m: args.to.lower() in m["to"].lower(), args.timeout, "mail sent to " + args.to)
    elif args.command == "mint":
        body = {"case": args.case}
        for name, value in (("audience", args.audience), ("email", args.email)):
            if value:
                body[name] = value
        out = call(args.jwks, "POST", "/_control/jwks/mint", body)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
