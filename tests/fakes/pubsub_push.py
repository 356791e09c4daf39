"""Google Cloud Pub/Sub's push subscription, simulated for Gmail notifications.

`PushSender.push` POSTs the push JSON Pub/Sub sends (PROTOCOLS.md):
{"message": {"data": base64({"emailAddress","historyId"}), "messageId",
"message_id", "publishTime", "publish_time"}, "subscription": "projects/P/subscriptions/S"}
with `Authorization: Bearer <OIDC token>` minted by google_tokens for the
subscription's audience and service account. Like Pub/Sub it counts 102,
200, 201, 202 and 204 as an ack and retries anything else (a few times, with
a short backoff here instead of Pub/Sub's 10 s to 600 s).
"""

import base64
import datetime
import itertools
import json
import threading
import time

import fakehttp
import google_tokens

ACK_STATUSES = (102, 200, 201, 202, 204)


def push_body(email_address, history_id, message_id, subscription, publish_time=None, attributes=None,
              history_id_as_string=False):
    """The JSON a push subscription POSTs. Gmail's notification carries the
    history id as a JSON number (its documentation shows a string; both occur)."""
    data = {"emailAddress": email_address,
            "historyId": str(history_id) if history_id_as_string else int(history_id)}
    published = publish_time or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
    published = published.replace("+00:00", "Z")
    message = {
        "data": base64.b64encode(json.dumps(data, separators=(",", ":")).encode("utf-8")).decode("ascii"),
        "messageId": message_id,
        "message_id": message_id,
        "publishTime": published,
        "publish_time": published,
    }
    if attributes:
        message["attributes"] = attributes
    return {"message": message, "subscription": subscription}


class PushSender:
    def __init__(self, endpoint, keys, audience=google_tokens.DEFAULT_AUDIENCE,
                 service_account=google_tokens.DEFAULT_SERVICE_ACCOUNT,
                 subscription="projects/fte-local/subscriptions/gmail-push", retries=3, backoff_s=0.5, log=None):
        self.endpoint = endpoint
        self.keys = keys
        self.audience = audience
        self.service_account = service_account
        self.subscription = subscription
        self.retries = retries
        self.backoff_s = backoff_s
        self.log = log or fakehttp.Log()
        self.lock = threading.Lock()
        # Pub/Sub message ids are decimal strings, unique per topic.
        self.ids = itertools.count(int(time.time() * 1000) * 1000)
        self.records = []

    def configure(self, body):
        with self.lock:
            for name in ("endpoint", "audience", "service_account", "subscription", "retries", "backoff_s"):
                if name in body:
                    setattr(self, name, body[name])

    def reset(self):
        with self.lock:
            self.records = []

    def attempts(self):
        with self.lock:
            return list(self.records)

    def push(self, email_address, history_id, message_id=None, token_case="valid", history_id_as_string=False,
             attributes=None):
        """Delivers one Pub/Sub message (retrying until acked or out of
        retries); returns {"message_id", "acked", "attempts": [answers]}."""
        with self.lock:
            message_id = message_id or str(next(self.ids))
            endpoint, retries, backoff = self.endpoint, self.retries, self.backoff_s
        if not endpoint:
            raise ValueError("no push endpoint configured")
        body = json.dumps(push_body(email_address, history_id, message_id, self.subscription, attributes=attributes,
                                    history_id_as_string=history_id_as_string)).encode("utf-8")
        attempts = []
        acked = False
        for attempt in range(1 + int(retries)):
            if attempt:
                time.sleep(backoff * (2 ** (attempt - 1)))
            # A fresh token each attempt, as Pub/Sub mints them.
            token = self.keys.mint_case(token_case, self.audience, self.service_account)
            answer = fakehttp.http_call("POST", endpoint, body, {
                "Content-Type": "application/json",
                "Authorization": "Bearer " + token,
                "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
                "From": "noreply@google.com",
            })
            attempts.append(answer.as_dict())
            self.log("pubsub", "push %s (%s history %s) -> %s%s" % (message_id, email_address, history_id,
                                                                      answer.status,
                                                                      " (" + answer.error + ")" if answer.error else ""))
            if answer.status in ACK_STATUSES:
                acked = True
                break
        record = {"at": time.time(), "message_id": message_id, "email_address": email_address,
                  "history_id": str(history_id), "token_case": token_case, "acked": acked, "attempts": attempts}
        with self.lock:
            self.records.append(record)
        return record
