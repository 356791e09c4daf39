"""fte-local's desk demo (issue 16): a demo agent signs in through the local
Keycloak, finds the conversation of the WhatsApp customer the agent handed
over, claims it and replies through the desk's JSON API, sending the reply
twice with one Idempotency-Key as a double-click would. Prints each step;
exits non-zero with the reason when one fails. fte-local then shows what
the fake Twilio recorded."""

import argparse
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "tests", "support", "py"), os.path.join(HERE, "..", "..", "tests", "fakes")]

import desk_session  # noqa: E402


def find_conversation(desk, phone, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, queue = desk.call("GET", "/api/conversations?view=unassigned&limit=200")
        if status != 200:
            raise AssertionError("GET /api/conversations answered %s: %r" % (status, queue))
        for item in queue["conversations"]:
            status, detail = desk.call("GET", "/api/conversations/" + item["id"])
            if status == 200 and any(i["value"] == phone for i in detail["customer"]["identifiers"]):
                return detail
        time.sleep(0.5)
    raise AssertionError("no unassigned conversation of %s within %ss" % (phone, timeout))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--desk", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--user", default="alice")
    parser.add_argument("--password", default="alice-local")
    parser.add_argument("--phone", required=True)
    args = parser.parse_args()
    try:
        desk = desk_session.Desk(args.desk, args.issuer, args.user, args.password)
        print("    %s signed in through %s (session cookie, CSRF token)" % (args.user, args.issuer))
        detail = find_conversation(desk, args.phone, 30)
        conversation = detail["conversation"]
        print("    the queue has %s's conversation %s: %s, priority %s, first response due %s" % (
            conversation["customer_name"] or args.phone, conversation["id"], conversation["reason"],
            conversation["priority"], conversation["first_response_due"]))
        path = "/api/conversations/" + conversation["id"]
        status, claimed = desk.call("POST", path + "/claim")
        if status != 200:
            raise AssertionError("claim answered %s: %r" % (status, claimed))
        print("    POST %s/claim -> %s, owner %s" % (path, status, claimed["conversation"]["owner"]))
        key = str(uuid.uuid4())
        reply = {"version": claimed["conversation"]["version"],
                 "body": "Hello, this is %s from support. I have refunded the second charge; it shows on your "
                         "statement within 5 working days." % args.user.capitalize()}
        for attempt in (1, 2):
            status, answer = desk.call("POST", path + "/replies", reply, {"Idempotency-Key": key})
            if status != 202:
                raise AssertionError("reply answered %s: %r" % (status, answer))
            print("    POST %s/replies (Idempotency-Key %s, try %d) -> %s, reply %s %s%s" % (
                path, key[:8], attempt, status, answer["reply"]["id"], answer["reply"]["status"],
                " (the same reply: nothing more is sent)" if answer["reply"]["replayed"] else ""))
        print("    the conversation is now %s (waiting on the customer)" % answer["conversation"]["status"])
    except (AssertionError, OSError, KeyError, ValueError) as error:
        print("desk demo failed: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
