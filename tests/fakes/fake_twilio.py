"""A fake Twilio REST API (Messages) that speaks Twilio's wire format.

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: form fields To,
  From or MessagingServiceSid, Body, MediaUrl (repeatable), StatusCallback,
  or instead of Body an approved template: ContentSid (HX...) and
  ContentVariables (a JSON object of strings);
  HTTP Basic auth (account sid, auth token). 201 with Twilio's message
  resource; Twilio's error JSON `{"code","message","more_info","status"}`.
- `GET .../Messages/{Sid}.json` and `GET .../Messages.json` (paged).
- After accepting a message it calls StatusCallback with the statuses of the
  callback plan (queued -> sent -> delivered by default), form-encoded and
  signed with X-Twilio-Signature by python3-twilio's RequestValidator.
- Faults and records through `/_control/...` (see `router`).
"""

import base64
import email.utils
import json
import random
import re
import threading
import time
import uuid

import fakehttp
import twilio_webhook

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ERROR_DOCS = "https://www.twilio.com/docs/errors/"


def twilio_error(status, code, message, headers=None):
    return fakehttp.json_response(status, {"code": code, "message": message, "more_info": ERROR_DOCS + str(code),
                                           "status": status}, headers)


def rfc2822(ts):
    return email.utils.formatdate(ts, usegmt=False).replace("-0000", "+0000")


class CallbackPlan:
    """Which status callbacks an accepted message produces, and how."""

    def __init__(self):
        self.enabled = True
        self.statuses = ["queued", "sent", "delivered"]
        self.order = "in_order"  # in_order | reversed | shuffled
        self.first_delay_ms = 200  # after the 201: the sender records the sid first, as with Twilio
        self.delay_ms = 150
        self.duplicates = 1  # each callback sent this many times
        self.seed = 7

    def update(self, body):
        for name in ("enabled", "statuses", "order", "first_delay_ms", "delay_ms", "duplicates", "seed"):
            if name in body:
                setattr(self, name, body[name])
        if "read" in body:  # a WhatsApp read receipt after delivered
            if body["read"] and "read" not in self.statuses:
                self.statuses = list(self.statuses) + ["read"]
            if not body["read"]:
                self.statuses = [s for s in self.statuses if s != "read"]
        if self.order not in ("in_order", "reversed", "shuffled"):
            raise ValueError("order must be in_order, reversed or shuffled")

    def as_dict(self):
        return {"enabled": self.enabled, "statuses": self.statuses, "order": self.order,
                "first_delay_ms": self.first_delay_ms, "delay_ms": self.delay_ms, "duplicates": self.duplicates,
                "seed": self.seed}

    def sequence(self, final=None):
        """The statuses to report, in the order they will be sent. `final`
        = (status, error_code) replaces everything after `sent` (a message
        that failed or was not delivered)."""
        statuses = list(self.statuses)
        if final:
            statuses = [s for s in statuses if s in ("accepted", "queued", "sending", "sent")] + [final[0]]
        if self.order == "reversed":
            statuses.reverse()
        elif self.order == "shuffled":
            random.Random(self.seed).shuffle(statuses)
        return [s for s in statuses for _ in range(max(1, int(self.duplicates)))]


class Faults:
    def __init__(self):
        self.rate_limit = 0  # next N sends answer 429 / 20429, nothing recorded
        self.retry_after = None  # seconds, sent as Retry-After with the 429s
        self.fail_after_accept = 0  # next N sends are recorded, then answered 500 / 20500
        self.reset_after_accept = 0  # next N sends are recorded, then the connection is dropped unanswered
        self.reject = 0  # next N sends answered with reject_status / reject_code (a permanent refusal)
        self.reject_status = 400
        self.reject_code = 21211
        self.reject_message = "The 'To' number is not a valid phone number."
        self.delay_ms = 0  # every send: answer only after this long (the message is recorded first)
        self.final_status = None  # (status, error_code) for the next accepted messages' last callback
        self.final_count = 0
        # Only sends to this recipient ("whatsapp:+1...") meet the faults;
        # None: every send. Lets one test's faults miss another's messages.
        self.to = None

    def applies(self, to):
        return self.to is None or self.to == to

    def update(self, body):
        for name in ("rate_limit", "retry_after", "fail_after_accept", "reset_after_accept", "reject",
                     "reject_status", "reject_code", "reject_message", "delay_ms", "to"):
            if name in body:
                setattr(self, name, body[name])
        if "final_status" in body:
            final = body["final_status"]
            self.final_status = (final["status"], str(final.get("error_code", "30008"))) if final else None
            self.final_count = int(body.get("final_count", 1))

    def as_dict(self):
        return {"rate_limit": self.rate_limit, "retry_after": self.retry_after,
                "fail_after_accept": self.fail_after_accept, "reset_after_accept": self.reset_after_accept,
                "reject": self.reject, "reject_status": self.reject_status, "reject_code": self.reject_code,
                "delay_ms": self.delay_ms, "final_status": self.final_status, "final_count": self.final_count,
                "to": self.to}


class TwilioFake:
    def __init__(self, account_sid, auth_token, whatsapp_number="+14155238886", inbound_url=None, routes=None,
                 page_size=50, log=None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.whatsapp_number = whatsapp_number
        self.inbound_url = inbound_url
        self.routes = twilio_webhook.Routes(routes)
        self.default_page_size = page_size
        self.log = log or fakehttp.Log()
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = {}  # sid -> stored message (resource fields + what was posted)
            self.order = []  # sids in acceptance order
            self.attempts = []  # every POST to Messages.json, with its outcome
            self.callbacks = []  # every status callback sent, with the answer it got
            self.inbound = []  # every inbound webhook sent through the control API
            self.plan = CallbackPlan()
            self.faults = Faults()

    # ----- the REST API -------------------------------------------------

    def _authenticate(self, request):
        """None when the Basic credentials are the account's; else the 401."""
        header = request.header("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user = password = None
            if user == self.account_sid and password == self.auth_token:
                return None
        return twilio_error(401, 20003, "Authenticate", [("WWW-Authenticate", 'Basic realm="Twilio API"')])

    def _account_path_error(self, request):
        if request.params["account"] != self.account_sid:
            return twilio_error(404, 20404, "The requested resource %s was not found" % request.path)
        return None

    def _resource(self, stored):
        sid = stored["sid"]
        base = "/2010-04-01/Accounts/%s/Messages/%s" % (self.account_sid, sid)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": stored["body"],
            "date_created": rfc2822(stored["created"]),
            "date_sent": rfc2822(stored["sent"]) if stored.get("sent") else None,
            "date_updated": rfc2822(stored["updated"]),
            "direction": "outbound-api",
            "error_code": int(stored["error_code"]) if stored.get("error_code") else None,
            "error_message": None,
            "from": stored["from"],
            "messaging_service_sid": stored["messaging_service_sid"],
            "num_media": str(len(stored["media_urls"])),
            "num_segments": str(max(1, (len(stored["body"]) + 152) // 153)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": stored["status"],
            "subresource_uris": {"media": base + "/Media.json", "feedback": base + "/Feedback.json"},
            "to": stored["to"],
            "uri": base + ".json",
        }

    def _validate_send(self, fields):
        """Twilio's answers to a send it refuses outright (None: acceptable)."""
        to = fields.get("To", [""])[0]
        sender = fields.get("From", [""])[0]
        service = fields.get("MessagingServiceSid", [""])[0]
        body = fields.get("Body", [""])[0]
        media = fields.get("MediaUrl", [])
        callback = fields.get("StatusCallback", [""])[0]
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to[len("whatsapp:"):] if to.startswith("whatsapp:") else to):
            return twilio_error(400, 21211, "The 'To' number %s is not a valid phone number." % to)
        if not sender and not service:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if sender and to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            return twilio_error(400, 63007, "Twilio could not find a Channel with the specified From address")
        if service and not re.match(r"^MG[0-9a-f]{32}$", service):
            return twilio_error(400, 21701, "The Messaging Service Sid %s is invalid." % service)
        content_sid = fields.get("ContentSid", [""])[0]
        content_variables = fields.get("ContentVariables", [None])[0]
        if content_sid and not re.match(r"^HX[0-9a-f]{32}$", content_sid):
            return twilio_error(400, 21655, "The ContentSid is Invalid")
        if content_variables is not None:
            try:
                parsed = json.loads(content_variables)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
                return twilio_error(400, 21656, "The ContentVariables Parameter is invalid")
        if not body and not media and not content_sid:
            return twilio_error(400, 21619, "A text message body or media urls must be specified.")
        if len(body) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if callback and not re.match(r"^https?://[^/\s]+", callback):
            return twilio_error(400, 21609, "The StatusCallback URL %s is not a valid URL." % callback)
        return None

    def create_message(self, request):
        denied = self._authenticate(request) or self._account_path_error(request)
        if denied:
            return denied
        pairs = request.form_pairs()
        fields = {}
        for name, value in pairs:
            fields.setdefault(name, []).append(value)
        attempt = {"at": time.time(), "params": pairs, "status": None, "sid": None}
        with self.lock:
            self.attempts.append(attempt)
            faults = self.faults if self.faults.applies(fields.get("To", [""])[0]) else Faults()
            if faults.rate_limit > 0:
                faults.rate_limit -= 1
                attempt["status"] = 429
                headers = [("Retry-After", str(faults.retry_after))] if faults.retry_after is not None else []
                return twilio_error(429, 20429, "Too Many Requests", headers)
            if faults.reject > 0:
                faults.reject -= 1
                attempt["status"] = faults.reject_status
                return twilio_error(faults.reject_status, faults.reject_code, faults.reject_message)
        refused = self._validate_send(fields)
        if refused:
            attempt["status"] = refused.status
            return refused
        now = time.time()
        service = fields.get("MessagingServiceSid", [None])[0]
        stored = {
            "sid": twilio_webhook.new_sid("SM" if not fields.get("MediaUrl") else "MM"),
            "to": fields["To"][0],
            "from": fields.get("From", [None])[0],
            "messaging_service_sid": service,
            "body": fields.get("Body", [""])[0],
            "media_urls": fields.get("MediaUrl", []),
            "content_sid": fields.get("ContentSid", [None])[0],
            "content_variables": json.loads(fields["ContentVariables"][0]) if fields.get("ContentVariables") else None,
            "status_callback": fields.get("StatusCallback", [None])[0],
            "status": "accepted" if service and not fields.get("From") else "queued",
            "created": now,
            "updated": now,
            "params": pairs,
            "error_code": None,
            "statuses": [],
        }
        with self.lock:
            self.messages[stored["sid"]] = stored
            self.order.append(stored["sid"])
            attempt["sid"] = stored["sid"]
            final = None
            if faults.final_status and faults.final_count > 0:
                final = faults.final_status
                faults.final_count -= 1
            answer_500 = faults.fail_after_accept > 0
            if answer_500:
                faults.fail_after_accept -= 1
            drop = not answer_500 and faults.reset_after_accept > 0
            if drop:
                faults.reset_after_accept -= 1
            delay = faults.delay_ms
            resource = self._resource(stored)
        self.log("twilio", "accepted %s to %s (%d chars)%s" % (stored["sid"], stored["to"], len(stored["body"]),
                                                               " then 500" if answer_500 else
                                                               " then dropped the connection" if drop else ""))
        self._schedule_callbacks(stored, final)
        if delay:
            time.sleep(delay / 1000.0)
        if answer_500:
            attempt["status"] = 500
            return twilio_error(500, 20500, "An internal server error has occurred")
        if drop:
            attempt["status"] = 0
            return fakehttp.dropped_connection()
        attempt["status"] = 201
        return fakehttp.json_response(201, resource)

    def get_message(self, request):
        denied = self._authenticate(request) or self._account_path_error(request)
        if denied:
            return denied
        with self.lock:
            stored = self.messages.get(request.params["sid"])
            if not stored:
                return twilio_error(404, 20404, "The requested resource %s was not found" % request.path)
            return fakehttp.json_response(200, self._resource(stored))

    def list_messages(self, request):
        denied = self._authenticate(request) or self._account_path_error(request)
        if denied:
            return denied
        try:
            page_size = max(1, min(1000, int(request.arg("PageSize", self.default_page_size))))
            page = max(0, int(request.arg("Page", "0")))
        except ValueError:
            return twilio_error(400, 20001, "Invalid paging parameters")
        to, sender = request.arg("To"), request.arg("From")
        with self.lock:
            rows = [self.messages[sid] for sid in reversed(self.order)]  # newest first, as Twilio lists them
            rows = [m for m in rows if (not to or m["to"] == to) and (not sender or m["from"] == sender)]
            chunk = rows[page * page_size:(page + 1) * page_size]
            resources = [self._resource(m) for m in chunk]
        base = "/2010-04-01/Accounts/%s/Messages.json" % self.account_sid
        extra = "".join("&%s=%s" % (k, v) for k, v in (("To", to), ("From", sender)) if v)

        def page_uri(n):
            return "%s?PageSize=%d&Page=%d%s" % (base, page_size, n, extra)

        more = (page + 1) * page_size < len(rows)
        return fakehttp.json_response(200, {
            "messages": resources,
            "end": page * page_size + max(0, len(chunk) - 1),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if more else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "page": page,
            "page_size": page_size,
            "start": page * page_size,
            "uri": page_uri(page),
        })

    # ----- status callbacks ---------------------------------------------

    def _schedule_callbacks(self, stored, final):
        with self.lock:
            plan = self.plan
            if not plan.enabled or not stored["status_callback"]:
                return
            sequence = plan.sequence(final)
            first, gap = plan.first_delay_ms / 1000.0, plan.delay_ms / 1000.0
        def run():
            time.sleep(first)
            for i, status in enumerate(sequence):
                if i:
                    time.sleep(gap)
                error_code = final[1] if final and status == final[0] else None
                self._send_callback(stored, status, error_code)

        threading.Thread(target=run, name="twilio-callbacks-" + stored["sid"], daemon=True).start()

    def _send_callback(self, stored, status, error_code):
        with self.lock:
            stored["statuses"].append(status)
            rank = ["accepted", "queued", "sending", "sent", "delivered", "read"]
            if status in ("failed", "undelivered") or (status in rank and stored["status"] in rank and
                                                       rank.index(status) > rank.index(stored["status"])):
                stored["status"] = status
                stored["error_code"] = error_code
            if status == "sent" and not stored.get("sent"):
                stored["sent"] = time.time()
            stored["updated"] = time.time()
            message = {"sid": stored["sid"], "account_sid": self.account_sid, "from": stored["from"],
                       "to": stored["to"], "messaging_service_sid": stored["messaging_service_sid"]}
            url = stored["status_callback"]
            connect = self.routes.resolve(url)
        params = twilio_webhook.status_callback_params(message, status, error_code)
        signature = twilio_webhook.sign(self.auth_token, url, params)
        answer = twilio_webhook.post_signed(url, params, signature=signature, connect_url=connect)
        record = {"at": time.time(), "sid": stored["sid"], "status": status, "error_code": error_code, "url": url,
                  "connected_to": connect, "params": params, "signature": signature, "answer": answer.as_dict()}
        with self.lock:
            self.callbacks.append(record)
        self.log("twilio", "status callback %s %s -> %s%s" % (stored["sid"], status, answer.status,
                                                               " (" + answer.error + ")" if answer.error else ""))

    # ----- inbound webhooks (Twilio calling the gateway) -----------------

    def send_inbound(self, body):
        """Posts an inbound WhatsApp message to the webhook URL, signed, the
        way Twilio does; `repeat` sends the same message (same MessageSid and
        idempotency token) again, as Twilio's retries do."""
        url = body.get("url") or self.inbound_url
        if not url:
            raise ValueError("no webhook url: give 'url' or start the fake with an inbound url")
        params = twilio_webhook.inbound_message_params(
            self.account_sid, body["from"], body.get("to", self.whatsapp_number), body.get("body", ""),
            body.get("profile_name", "Test Customer"), body.get("media", []), body.get("message_sid"),
            body.get("messaging_service_sid"), body.get("extra"))
        token = body.get("auth_token", self.auth_token)
        signature = twilio_webhook.sign(token, url, params)
        idempotency = str(uuid.uuid4())
        answers = []
        for _ in range(int(body.get("repeat", 1))):
            answer = twilio_webhook.post_signed(url, params, signature=signature, connect_url=self.routes.resolve(url),
                                                idempotency_token=idempotency)
            answers.append(answer.as_dict())
            self.log("twilio", "inbound %s from %s -> %s" % (params["MessageSid"], params["From"], answer.status))
        record = {"at": time.time(), "url": url, "params": params, "signature": signature, "answers": answers}
        with self.lock:
            self.inbound.append(record)
        return record

    # ----- what tests read -----------------------------------------------

    def sent_messages(self):
        with self.lock:
            out = []
            for sid in self.order:
                stored = self.messages[sid]
                resource = self._resource(stored)
                resource["params"] = stored["params"]
                resource["media_urls"] = stored["media_urls"]
                resource["status_callback"] = stored["status_callback"]
                resource["content_sid"] = stored["content_sid"]
                resource["content_variables"] = stored["content_variables"]
                resource["callback_statuses"] = list(stored["statuses"])
                out.append(resource)
            return out

    def router(self):
        router = fakehttp.Router("twilio")
        account = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
        router.add("POST", account + r"/Messages\.json", self.create_message)
        router.add("GET", account + r"/Messages\.json", self.list_messages)
        router.add("GET", account + r"/Messages/(?P<sid>[A-Za-z0-9]+)\.json", self.get_message)

        def control(fn):
            def handler(request):
                try:
                    return fakehttp.json_response(200, fn(request.json() if request.method == "POST" else request))
                except (ValueError, KeyError, TypeError) as error:
                    return fakehttp.json_response(400, {"error": "%s: %s" % (type(error).__name__, error)})
            return handler

        def faults(body):
            with self.lock:
                self.faults.update(body)
                return self.faults.as_dict()

        def plan(body):
            with self.lock:
                self.plan.update(body)
                return self.plan.as_dict()

        def routes(body):
            with self.lock:
                self.routes.routes.update(body)
                return self.routes.routes

        def reset(body):
            self.reset()
            return {"reset": True}

        def read(attribute):
            def fn(request):
                with self.lock:
                    return {attribute: list(getattr(self, attribute))}
            return fn

        router.add("GET", r"/_control/messages", control(lambda request: {"messages": self.sent_messages()}))
        router.add("GET", r"/_control/attempts", control(read("attempts")))
        router.add("GET", r"/_control/callbacks", control(read("callbacks")))
        router.add("GET", r"/_control/inbound", control(read("inbound")))
        router.add("POST", r"/_control/faults", control(faults))
        router.add("POST", r"/_control/callback_plan", control(plan))
        router.add("POST", r"/_control/routes", control(routes))
        router.add("POST", r"/_control/inbound", control(self.send_inbound))
        router.add("POST", r"/_control/reset", control(reset))
        return router
