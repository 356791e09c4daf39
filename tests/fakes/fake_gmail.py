"""A fake Gmail API and Google OAuth2 token endpoint, in Gmail's wire format.

Token endpoint (`POST /token`, form-encoded): the refresh-token grant and the
service-account JWT-bearer grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`,
RS256 assertion checked with python3-jwt). Answers as Google does:
`{"access_token","expires_in","scope","token_type"}`, `400 invalid_grant`,
`401 invalid_client`.

Gmail (`/gmail/v1/users/{user}/...`), every call with `Authorization: Bearer`
of an issued, unexpired token (401 with Google's error JSON otherwise):
- `history?startHistoryId=&historyTypes=&labelId=&pageToken=&maxResults=`:
  records after the start id, a small page size so clients must follow
  `nextPageToken`; 404 when the start id is older than the mailbox's history
  horizon (a stale cursor);
- `messages/{id}?format=raw|minimal|metadata|full` (404 unknown; a message
  can be made invisible for its first N gets: the push arrived first);
- `messages?q=&labelIds=&pageToken=&maxResults=` (`rfc822msgid:`, `in:`,
  `label:`, `is:`, `after:`, `before:`, `from:`, `to:`, `subject:`, `-term`);
- `messages/send` (`{"raw","threadId"}`), threaded the way Gmail threads:
  threadId given, In-Reply-To/References naming a message of the thread, and
  the same subject; the sent message shows in history as messageAdded too;
- `watch`, `stop`, `profile`.
History ids grow with gaps, as Gmail's do. Controls under `/_control/gmail/`.
"""

import base64
import email
import email.policy
import email.utils
import json
import random
import re
import secrets
import threading
import time
import urllib.parse

import jwt

import fakehttp
import google_tokens

GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.modify"
GOOGLE_TOKEN_URLS = ("https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token",
                     "https://accounts.google.com/o/oauth2/token")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUTH_MESSAGE = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.")


def google_error(code, message, reason, status, headers=None, location=None, location_type=None):
    detail = {"message": message, "domain": "global", "reason": reason}
    if location:
        detail["location"] = location
        detail["locationType"] = location_type or "parameter"
    return fakehttp.json_response(code, {"error": {"code": code, "message": message, "errors": [detail],
                                                   "status": status}}, headers)


def unauthenticated():
    response = google_error(401, AUTH_MESSAGE, "authError", "UNAUTHENTICATED",
                            [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/", error="invalid_token"')],
                            "Authorization", "header")
    body = json.loads(response.body)
    body["error"]["errors"][0]["message"] = "Invalid Credentials"
    response.body = json.dumps(body).encode("utf-8")
    return response


def not_found():
    return google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")


def invalid_argument(message):
    return google_error(400, message, "invalidArgument", "INVALID_ARGUMENT")


def backend_error():
    return google_error(500, "Internal error encountered.", "backendError", "INTERNAL")


def rate_limited():
    return google_error(429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded",
                        "RESOURCE_EXHAUSTED")


def oauth_error(status, error, description):
    return fakehttp.json_response(status, {"error": error, "error_description": description},
                                  [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                   ("Pragma", "no-cache")])


def b64url_encode(data, padded=True):
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if padded else text.rstrip("=")


def b64url_decode(text):
    """Gmail takes base64url with or without padding (and plain base64)."""
    text = text.strip().replace("+", "-").replace("/", "_")
    if not re.fullmatch(r"[A-Za-z0-9_\-]*=*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize_subject(subject):
    subject = (subject or "").strip()
    while True:
        stripped = re.sub(r"^(re|fwd?|aw|sv|wg)(\[\d+\])?\s*:\s*", "", subject, flags=re.IGNORECASE)
        if stripped == subject:
            return re.sub(r"\s+", " ", subject).lower()
        subject = stripped


def message_ids_in(value):
    return re.findall(r"<[^<>\s]+>", value or "")


class StoredMessage:
    def __init__(self, message_id, thread_id, labels, raw, internal_date, history_id):
        self.id = message_id
        self.thread_id = thread_id
        self.labels = list(labels)
        self.raw = raw
        self.internal_date = internal_date  # ms since the epoch
        self.history_id = history_id
        self.invisible_gets = 0
        self.headers = email.message_from_bytes(raw, policy=email.policy.compat32)

    def header(self, name):
        value = self.headers.get(name)
        return str(value) if value is not None else ""

    @property
    def message_id_header(self):
        return self.header("Message-ID").strip()

    def text(self):
        try:
            parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
            part = parsed.get_body(preferencelist=("plain", "html"))
            return part.get_content() if part is not None else ""
        except Exception:  # a simulator shows what it can of odd mail
            return ""

    def snippet(self):
        return re.sub(r"\s+", " ", self.text()).strip()[:100]

    def ref(self):
        return {"id": self.id, "threadId": self.thread_id}

    def minimal(self):
        return {"id": self.id, "threadId": self.thread_id, "labelIds": list(self.labels), "snippet": self.snippet(),
                "sizeEstimate": len(self.raw), "historyId": str(self.history_id),
                "internalDate": str(self.internal_date)}


class Mailbox:
    def __init__(self, address, first_history_id=None):
        self.address = address.lower()
        # Gmail's history ids increase with random gaps: a client must never
        # compute one. They never go backwards either, so a simulator that is
        # restarted (fte-local up, again) starts above every id it handed out
        # before: a cursor kept in PostgreSQL from an earlier run stays valid.
        self.rng = random.Random(self.address)
        if first_history_id is None:
            first_history_id = int(time.time() * 10)
        self.history_id = first_history_id + self.rng.randint(0, 999)
        self.horizon = 0  # start ids below this are stale (404)
        self.records = []  # {"id", "kind", "message", "labels"} in id order
        self.messages = {}
        self.watch = None
        self.watch_calls = 0

    def next_history_id(self):
        self.history_id += self.rng.randint(1, 9)
        return self.history_id

    def thread_of(self, thread_id):
        return [m for m in self.messages.values() if m.thread_id == thread_id]


class GmailFake:
    def __init__(self, mailboxes=("support@example.com",), client_id="fte-local-client.apps.googleusercontent.com",
                 client_secret="fte-local-secret", refresh_tokens=None, service_account_email=None,
                 token_lifetime=3599, page_size=3, list_page_size=3, raw_padding=True, push=None, log=None):
        self.log = log or fakehttp.Log()
        self.lock = threading.RLock()
        self.client_id = client_id
        self.client_secret = client_secret
        self.initial_mailboxes = [m.lower() for m in mailboxes]
        # refresh token -> the user it was granted by
        self.refresh_tokens = dict(refresh_tokens or {"fte-local-refresh-token": self.initial_mailboxes[0]})
        self._service_account_key = None  # made on first use: RSA key generation is slow
        self.service_account_email = service_account_email or "fte-gmail@fte-local.iam.gserviceaccount.com"
        self.token_lifetime = token_lifetime
        self.page_size = page_size
        self.list_page_size = list_page_size
        self.raw_padding = raw_padding
        self.push = push  # a pubsub_push.PushSender, or None
        # Gmail also notifies the mailbox's own sends when the watch's label
        # filter does not hold them back (PROTOCOLS.md pitfalls): off unless asked.
        self.push_on_send = False
        self.token_url = None  # set by whoever serves this, for the JWT audience
        self.id_counter = 0x18c2a0000000000 + secrets.randbelow(0xffffff) * 0x1000
        self.reset()

    @property
    def service_account_key(self):
        with self.lock:
            if self._service_account_key is None:
                self._service_account_key = google_tokens.SigningKey()
            return self._service_account_key

    def reset(self):
        with self.lock:
            self.mailboxes = {address: Mailbox(address) for address in self.initial_mailboxes}
            self.tokens = {}  # access token -> {"user", "expires", "grant"}
            self.revoked = set()
            self.calls = {}  # "METHOD endpoint" -> count
            self.token_requests = {"refresh_token": 0, JWT_BEARER: 0, "failed": 0}
            self.faults = {"rate_limit_sends": 0, "fail_send_after_store": 0, "reset_send_after_store": 0,
                           "delay_send_ms": 0, "fail_history": 0, "fail_gets": 0, "fail_tokens": 0}
            # Only sends whose To contains this address meet the send faults
            # (None: every send), so one test's faults miss another's mail.
            self.send_faults_to = None
            self.pushes = []

    def new_id(self):
        with self.lock:
            self.id_counter += secrets.randbelow(0x3ff) + 1
            return "%016x" % self.id_counter

    def mailbox(self, address, create=False):
        with self.lock:
            address = address.lower()
            if address not in self.mailboxes and create:
                self.mailboxes[address] = Mailbox(address)
            return self.mailboxes.get(address)

    def count(self, name):
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    # ----- OAuth2 token endpoint ----------------------------------------

    def service_account_info(self, token_url):
        """The service-account JSON file Google would give for this fake's key."""
        return {
            "type": "service_account",
            "project_id": "fte-local",
            "private_key_id": self.service_account_key.kid,
            "private_key": self.service_account_key.private_pem(),
            "client_email": self.service_account_email,
            "client_id": "1" + str(int(self.service_account_key.kid, 16))[:20],
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_url,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" +
                                    urllib.parse.quote(self.service_account_email),
            "universe_domain": "googleapis.com",
        }

    def _issue(self, user, grant, scope):
        token = "ya29.fake-" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = {"user": user, "expires": time.time() + self.token_lifetime, "grant": grant}
            self.token_requests[grant] += 1
        self.log("gmail-oauth", "issued a token (%s grant) for %s" % ("refresh-token" if grant == "refresh_token" else
                                                                      "jwt-bearer", user or "(no user)"))
        return fakehttp.json_response(200, {"access_token": token, "expires_in": self.token_lifetime,
                                            "scope": scope, "token_type": "Bearer"},
                                      [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
                                       ("Pragma", "no-cache")])

    def _token_failure(self, status, error, description):
        with self.lock:
            self.token_requests["failed"] += 1
        self.log("gmail-oauth", "token refused: %s (%s)" % (error, description))
        return oauth_error(status, error, description)

    def token(self, request):
        self.count("POST /token")
        with self.lock:
            if self.faults["fail_tokens"] > 0:
                self.faults["fail_tokens"] -= 1
                return oauth_error(500, "internal_failure", "Backend Error")
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type == "application/json":
            fields = {k: str(v) for k, v in request.json().items()}
        else:
            fields = dict(request.form_pairs())
        grant = fields.get("grant_type", "")
        if grant == "refresh_token":
            if fields.get("client_id") != self.client_id or fields.get("client_secret") != self.client_secret:
                return self._token_failure(401, "invalid_client", "Unauthorized")
            refresh = fields.get("refresh_token", "")
            if refresh not in self.refresh_tokens or refresh in self.revoked:
                return self._token_failure(400, "invalid_grant", "Token has been expired or revoked.")
            return self._issue(self.refresh_tokens[refresh], "refresh_token", GMAIL_SCOPE)
        if grant == JWT_BEARER:
            return self._jwt_bearer(fields.get("assertion", ""))
        if not grant:
            return self._token_failure(400, "unsupported_grant_type", "Invalid grant_type: ")
        return self._token_failure(400, "unsupported_grant_type", "Invalid grant_type: " + grant)

    def _jwt_bearer(self, assertion):
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return self._token_failure(400, "invalid_grant", "Invalid JWT Signature.")
        if header.get("alg") != "RS256" or header.get("kid") not in (None, self.service_account_key.kid):
            return self._token_failure(400, "invalid_grant", "Invalid JWT Signature.")
        audiences = list(GOOGLE_TOKEN_URLS) + ([self.token_url] if self.token_url else [])
        try:
            claims = jwt.decode(assertion, self.service_account_key.private_key.public_key(), algorithms=["RS256"],
                                audience=audiences, leeway=60, options={"require": ["iss", "aud", "exp", "iat"]})
        except jwt.InvalidSignatureError:
            return self._token_failure(400, "invalid_grant", "Invalid JWT Signature.")
        except jwt.InvalidAudienceError:
            return self._token_failure(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        except jwt.PyJWTError as error:
            return self._token_failure(400, "invalid_grant",
                                       "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                                       "timeframe. Check your iat and exp values in the JWT claim. (%s)" % error)
        if claims["iss"] != self.service_account_email:
            return self._token_failure(400, "invalid_grant", "Invalid email or User ID")
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            return self._token_failure(400, "invalid_grant",
                                       "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                                       "timeframe. Check your iat and exp values in the JWT claim.")
        scope = claims.get("scope", "")
        if not scope:
            return self._token_failure(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        user = claims.get("sub")
        return self._issue(user.lower() if user else None, JWT_BEARER, scope)

    # ----- Gmail API ----------------------------------------------------

    def _authorize(self, request):
        """(mailbox, None) for a request with a valid bearer token, else (None, the error response)."""
        header = request.header("Authorization", "")
        token = header[len("Bearer "):].strip() if header.startswith("Bearer ") else ""
        with self.lock:
            info = self.tokens.get(token)
            if not info or info["expires"] <= time.time():
                return None, unauthenticated()
            user = request.params["user"]
            granted = info["user"]
            if user == "me":
                if not granted:
                    return None, google_error(400, "Precondition check failed.", "failedPrecondition",
                                              "FAILED_PRECONDITION")
                user = granted
            if granted and urllib.parse.unquote(user).lower() != granted:
                return None, google_error(403, "Delegation denied for " + granted, "forbidden",
                                          "PERMISSION_DENIED")
            mailbox = self.mailboxes.get(urllib.parse.unquote(user).lower())
            if mailbox is None:
                return None, google_error(400, "Mail service not enabled", "failedPrecondition", "FAILED_PRECONDITION")
            return mailbox, None

    def _record(self, mailbox, kind, message, labels=None):
        history_id = mailbox.next_history_id()
        mailbox.records.append({"id": history_id, "kind": kind, "message": message,
                                "labels": list(labels if labels is not None else message.labels)})
        message.history_id = history_id
        return history_id

    def _history_record(self, record):
        message = record["message"]
        ref = {"id": message.id, "threadId": message.thread_id, "labelIds": record["labels"]}
        out = {"id": str(record["id"]), "messages": [message.ref()]}
        if record["kind"] == "messageAdded":
            out["messagesAdded"] = [{"message": ref}]
        elif record["kind"] == "messageDeleted":
            out["messagesDeleted"] = [{"message": ref}]
        else:
            out[record["kind"]] = [{"message": ref, "labelIds": record.get("changed", [])}]
        return out

    def list_history(self, request):
        self.count("GET history")
        mailbox, error = self._authorize(request)
        if error:
            return error
        start = request.arg("startHistoryId")
        if start is None:
            return invalid_argument("Missing required field: startHistoryId")
        try:
            start = int(start)
            after = int(base64.urlsafe_b64decode(request.arg("pageToken")).decode()) if request.arg("pageToken") else 0
            limit = int(request.arg("maxResults", "100"))
        except ValueError:
            return invalid_argument("Invalid value for the request parameters")
        types = set(request.query.get("historyTypes", []))
        label = request.arg("labelId")
        with self.lock:
            if self.faults["fail_history"] > 0:
                self.faults["fail_history"] -= 1
                return backend_error()
            if start < mailbox.horizon:
                self.log("gmail", "history of %s from %d: stale (horizon %d) -> 404" % (mailbox.address, start,
                                                                                          mailbox.horizon))
                return not_found()
            page_size = max(1, min(limit, 500, self.page_size))
            records = [r for r in mailbox.records if r["id"] > start and r["id"] > after and
                       (not types or r["kind"] in types) and (not label or label in r["labels"])]
            page = records[:page_size]
            body = {"historyId": str(mailbox.history_id)}
            if page:
                body["history"] = [self._history_record(r) for r in page]
            if len(records) > page_size:
                body["nextPageToken"] = base64.urlsafe_b64encode(str(page[-1]["id"]).encode()).decode()
        return fakehttp.json_response(200, body)

    def get_message(self, request):
        self.count("GET message")
        mailbox, error = self._authorize(request)
        if error:
            return error
        form = request.arg("format", "full")
        with self.lock:
            if self.faults["fail_gets"] > 0:
                self.faults["fail_gets"] -= 1
                return backend_error()
            message = mailbox.messages.get(request.params["id"])
            if message is None:
                return not_found()
            if message.invisible_gets > 0:
                message.invisible_gets -= 1
                self.log("gmail", "message %s not visible yet (%d more gets)" % (message.id, message.invisible_gets))
                return not_found()
            body = message.minimal()
            if form == "raw":
                body["raw"] = b64url_encode(message.raw, self.raw_padding)
            elif form in ("metadata", "full"):
                wanted = {h.lower() for h in request.query.get("metadataHeaders", [])}
                headers = [{"name": k, "value": str(v)} for k, v in message.headers.items()
                           if form == "full" or not wanted or k.lower() in wanted]
                body["payload"] = {"partId": "", "mimeType": message.headers.get_content_type(), "filename": "",
                                   "headers": headers}
                if form == "full" and not message.headers.is_multipart():
                    body["payload"]["body"] = {"size": len(message.headers.get_payload()),
                                               "data": b64url_encode(message.text().encode("utf-8"), False)}
            elif form != "minimal":
                return invalid_argument("Invalid value at 'format' (%s)" % form)
        return fakehttp.json_response(200, body)

    def _matches(self, message, term):
        negate = term.startswith("-")
        term = term[1:] if negate else term
        key, _, value = term.partition(":")
        key = key.lower()
        value = value.strip('"')
        labels = {label.upper() for label in message.labels}
        if not _:
            hit = term.lower() in message.raw.decode("utf-8", "replace").lower()
        elif key == "rfc822msgid":
            hit = message.message_id_header.strip("<>").lower() == value.strip("<>").lower()
        elif key in ("in", "label", "is"):
            name = value.upper().replace("-", "_")
            hit = name == "ANYWHERE" or name in labels
        elif key in ("after", "before", "older", "newer"):
            if re.fullmatch(r"\d+", value):
                seconds = int(value)
            else:
                seconds = int(time.mktime(time.strptime(value.replace("-", "/"), "%Y/%m/%d")))
            hit = message.internal_date >= seconds * 1000 if key in ("after", "newer") else \
                message.internal_date < seconds * 1000
        elif key in ("from", "to", "cc", "subject"):
            hit = value.lower() in message.header(key).lower()
        else:
            hit = term.lower() in message.raw.decode("utf-8", "replace").lower()
        return hit != negate

    def list_messages(self, request):
        self.count("GET messages")
        mailbox, error = self._authorize(request)
        if error:
            return error
        query = request.arg("q", "")
        labels = request.query.get("labelIds", [])
        spam_trash = request.arg("includeSpamTrash", "false") == "true"
        try:
            offset = int(base64.urlsafe_b64decode(request.arg("pageToken")).decode()) if request.arg("pageToken") else 0
            limit = int(request.arg("maxResults", "100"))
        except ValueError:
            return invalid_argument("Invalid value for the request parameters")
        terms = re.findall(r'-?[A-Za-z0-9_]+:"[^"]*"|\S+', query)
        with self.lock:
            found = [m for m in mailbox.messages.values()
                     if (spam_trash or "in:anywhere" in terms or not {"SPAM", "TRASH"} & set(m.labels)) and
                     all(label in m.labels for label in labels) and all(self._matches(m, t) for t in terms)]
            found.sort(key=lambda m: (m.internal_date, m.id), reverse=True)
            page_size = max(1, min(limit, 500, self.list_page_size))
            page = found[offset:offset + page_size]
            body = {"resultSizeEstimate": len(found)}
            if page:
                body["messages"] = [m.ref() for m in page]
            if offset + page_size < len(found):
                body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode()
        return fakehttp.json_response(200, body)

    def _thread_for(self, mailbox, raw_message, requested_thread=None):
        """Gmail's threading: the message joins a thread when it names one of
        the thread's messages in In-Reply-To/References and has the same
        subject (and, for a send, the threadId asks for that thread)."""
        referenced = set(message_ids_in(raw_message.get("In-Reply-To", "")) +
                         message_ids_in(raw_message.get("References", "")))
        subject = normalize_subject(str(raw_message.get("Subject", "")))
        candidates = [m for m in mailbox.messages.values() if m.message_id_header in referenced and
                      normalize_subject(m.header("Subject")) == subject]
        if requested_thread is not None:
            candidates = [m for m in candidates if m.thread_id == requested_thread]
        return candidates[0].thread_id if candidates else None

    def store(self, mailbox, raw, labels, internal_date=None, thread_id=None, requested_thread=None):
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        with self.lock:
            message_id = self.new_id()
            thread = thread_id or self._thread_for(mailbox, parsed, requested_thread) or message_id
            stored = StoredMessage(message_id, thread, labels, raw,
                                   int(internal_date if internal_date is not None else time.time() * 1000), 0)
            mailbox.messages[message_id] = stored
            self._record(mailbox, "messageAdded", stored)
            return stored

    def send_message(self, request):
        self.count("POST send")
        mailbox, error = self._authorize(request)
        if error:
            return error
        try:
            body = request.json()
        except ValueError:
            return invalid_argument("Invalid JSON payload received.")
        if not body.get("raw"):
            return invalid_argument("'raw' RFC822 payload message string or uploading message via /upload/* URL "
                                    "required")
        try:
            raw = b64url_decode(body["raw"])
        except (ValueError, TypeError):
            return invalid_argument("Invalid value for ByteString: " + str(body["raw"])[:40])
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        if not any(parsed.get(h) for h in ("To", "Cc", "Bcc")):
            return invalid_argument("Recipient address required")
        requested = body.get("threadId")
        with self.lock:
            targeted = self.send_faults_to is None or self.send_faults_to.lower() in str(parsed.get("To", "")).lower()
            faults = self.faults if targeted else dict.fromkeys(self.faults, 0)
            if faults["rate_limit_sends"] > 0:
                faults["rate_limit_sends"] -= 1
                return rate_limited()
            if requested and not mailbox.thread_of(requested):
                return not_found()
            if not parsed.get("Message-ID"):
                # Gmail gives a message without one its own.
                raw = ("Message-ID: <%s@mail.gmail.com>\r\n" % secrets.token_hex(12)).encode("ascii") + raw
            stored = self.store(mailbox, raw, ["SENT"], requested_thread=requested)
            if requested and stored.thread_id != requested:
                self.log("gmail", "sent %s started a new thread: threadId %s asked for, but In-Reply-To/References "
                                  "or the subject do not match it" % (stored.id, requested))
            fail = faults["fail_send_after_store"] > 0
            if fail:
                faults["fail_send_after_store"] -= 1
            drop = not fail and faults["reset_send_after_store"] > 0
            if drop:
                faults["reset_send_after_store"] -= 1
            delay = faults["delay_send_ms"]
        self.log("gmail", "sent %s in thread %s from %s to %s%s" % (
            stored.id, stored.thread_id, mailbox.address, stored.header("To"),
            " then 500" if fail else " then dropped the connection" if drop else ""))
        if self.push_on_send and self.push is not None and self.push.endpoint:
            threading.Thread(target=self.push.push, args=(mailbox.address, stored.history_id), daemon=True).start()
        if delay:
            time.sleep(delay / 1000.0)
        if fail:
            return backend_error()
        if drop:
            return fakehttp.dropped_connection()
        return fakehttp.json_response(200, {"id": stored.id, "threadId": stored.thread_id,
                                            "labelIds": list(stored.labels)})

    def watch(self, request):
        self.count("POST watch")
        mailbox, error = self._authorize(request)
        if error:
            return error
        try:
            body = request.json()
        except ValueError:
            return invalid_argument("Invalid JSON payload received.")
        topic = body.get("topicName", "")
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            return invalid_argument("Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC")
        with self.lock:
            expiration = int(time.time() * 1000) + 7 * 24 * 3600 * 1000
            mailbox.watch = {"topicName": topic, "labelIds": body.get("labelIds", []),
                             "labelFilterBehavior": body.get("labelFilterBehavior", body.get("labelFilterAction")),
                             "expiration": expiration, "historyId": mailbox.history_id}
            mailbox.watch_calls += 1
            answer = {"historyId": str(mailbox.history_id), "expiration": str(expiration)}
        self.log("gmail", "watch on %s -> %s" % (mailbox.address, topic))
        return fakehttp.json_response(200, answer)

    def stop(self, request):
        self.count("POST stop")
        mailbox, error = self._authorize(request)
        if error:
            return error
        with self.lock:
            mailbox.watch = None
        return fakehttp.empty_response(204)

    def profile(self, request):
        self.count("GET profile")
        mailbox, error = self._authorize(request)
        if error:
            return error
        with self.lock:
            threads = {m.thread_id for m in mailbox.messages.values()}
            return fakehttp.json_response(200, {"emailAddress": mailbox.address,
                                                "messagesTotal": len(mailbox.messages),
                                                "threadsTotal": len(threads), "historyId": str(mailbox.history_id)})

    # ----- controls: the outside world ------------------------------------

    @staticmethod
    def compose(fields):
        """An RFC 822 message from fields: from, to, subject, body (or html),
        message_id, in_reply_to, references, date, headers."""
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"] = fields["from"]
        message["To"] = fields.get("to", "support@example.com")
        message["Subject"] = fields.get("subject", "Hello")
        message["Date"] = fields.get("date") or email.utils.formatdate(localtime=False)
        message["Message-ID"] = fields.get("message_id") or email.utils.make_msgid(domain="customer.example.org")
        if fields.get("in_reply_to"):
            message["In-Reply-To"] = fields["in_reply_to"]
        references = fields.get("references")
        if references:
            message["References"] = " ".join(references) if isinstance(references, list) else references
        for name, value in fields.get("headers", {}).items():
            message[name] = value
        html = fields.get("html")
        if html is not None and fields.get("body"):
            message.set_content(fields["body"])
            message.add_alternative(html, subtype="html")
        elif html is not None:
            message.set_content(html, subtype="html")  # what some mailers send: no text/plain part
        else:
            message.set_content(fields.get("body", ""))
        return message.as_bytes(policy=email.policy.SMTP)

    def deliver(self, body):
        """An email arriving from outside: stored with INBOX labels, recorded
        in history, then (unless push is false) announced by a Pub/Sub push."""
        mailbox = self.mailbox(body.get("mailbox", self.initial_mailboxes[0]), create=True)
        if "raw" in body:
            raw = body["raw"].encode("utf-8") if isinstance(body["raw"], str) else body["raw"]
        elif "raw_base64url" in body:
            raw = b64url_decode(body["raw_base64url"])
        else:
            raw = self.compose(body)
        stored = self.store(mailbox, raw, body.get("labels", ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]),
                            body.get("internal_date_ms"), body.get("thread_id"))
        with self.lock:
            stored.invisible_gets = int(body.get("invisible_gets", 0))
            history_id = mailbox.history_id
        self.log("gmail", "delivered %s (thread %s, history %d) to %s: %s" % (
            stored.id, stored.thread_id, history_id, mailbox.address, stored.header("Subject")))
        result = {"id": stored.id, "threadId": stored.thread_id, "historyId": str(history_id),
                  "message_id_header": stored.message_id_header, "internalDate": str(stored.internal_date),
                  "pushes": []}
        if body.get("push", self.push is not None and bool(self.push.endpoint)):
            result["pushes"] = self.send_push({"mailbox": mailbox.address, "history_id": history_id,
                                               "repeat": body.get("push_repeat", 1),
                                               "async": body.get("push_async", False)})
        return result

    def send_push(self, body):
        if self.push is None or not self.push.endpoint:
            raise ValueError("no push endpoint configured (--push-endpoint)")
        mailbox = self.mailbox(body.get("mailbox", self.initial_mailboxes[0]))
        if mailbox is None:
            raise ValueError("no mailbox " + body.get("mailbox", ""))
        history_id = body.get("history_id", mailbox.history_id)
        kwargs = {k: body[k] for k in ("message_id", "token_case", "history_id_as_string", "attributes")
                  if k in body}
        results = []
        for _ in range(int(body.get("repeat", 1))):
            if body.get("async"):
                threading.Thread(target=self.push.push, args=(mailbox.address, history_id), kwargs=kwargs,
                                 daemon=True).start()
                results.append({"async": True})
            else:
                results.append(self.push.push(mailbox.address, history_id, **kwargs))
        return results

    def expire_history(self, body):
        mailbox = self.mailbox(body["mailbox"])
        with self.lock:
            mailbox.horizon = int(body.get("before", mailbox.history_id))
            self.log("gmail", "history of %s before %d is gone (stale cursors get 404)" % (mailbox.address,
                                                                                            mailbox.horizon))
            return {"mailbox": mailbox.address, "horizon": mailbox.horizon, "historyId": mailbox.history_id}

    def change_labels(self, body):
        mailbox = self.mailbox(body["mailbox"])
        with self.lock:
            message = mailbox.messages[body["id"]]
            added = [label for label in body.get("add", []) if label not in message.labels]
            removed = [label for label in body.get("remove", []) if label in message.labels]
            message.labels = [label for label in message.labels if label not in removed] + added
            for kind, changed in (("labelsAdded", added), ("labelsRemoved", removed)):
                if changed:
                    self._record(mailbox, kind, message)
                    mailbox.records[-1]["changed"] = changed
            return {"id": message.id, "labelIds": message.labels, "historyId": str(mailbox.history_id)}

    def describe_message(self, message):
        return {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.labels),
                "historyId": str(message.history_id), "internalDate": str(message.internal_date),
                "from": message.header("From"), "to": message.header("To"), "subject": message.header("Subject"),
                "message_id": message.message_id_header, "in_reply_to": message.header("In-Reply-To").strip(),
                "references": message_ids_in(message.header("References")), "text": message.text(),
                "raw": message.raw.decode("utf-8", "replace")}

    def sent(self, mailbox_address=None):
        with self.lock:
            boxes = [self.mailbox(mailbox_address)] if mailbox_address else list(self.mailboxes.values())
            return [self.describe_message(m) for box in boxes if box for m in box.messages.values()
                    if "SENT" in m.labels]

    def router(self):
        router = fakehttp.Router("gmail")
        router.add("POST", r"/token", self.token)
        user = r"/gmail/v1/users/(?P<user>[^/]+)"
        router.add("GET", user + r"/history", self.list_history)
        router.add("GET", user + r"/messages", self.list_messages)
        router.add("POST", user + r"/messages/send", self.send_message)
        router.add("GET", user + r"/messages/(?P<id>[0-9a-zA-Z]+)", self.get_message)
        router.add("POST", user + r"/watch", self.watch)
        router.add("POST", user + r"/stop", self.stop)
        router.add("GET", user + r"/profile", self.profile)

        control = fakehttp.control_handler

        def faults(body):
            with self.lock:
                body = dict(body)
                if "send_faults_to" in body:
                    self.send_faults_to = body.pop("send_faults_to")
                unknown = set(body) - set(self.faults)
                if unknown:
                    raise ValueError("unknown faults %s (known: %s)" % (sorted(unknown), sorted(self.faults)))
                self.faults.update({k: int(v) for k, v in body.items()})
                return dict(self.faults, send_faults_to=self.send_faults_to)

        def config(body):
            with self.lock:
                for name in ("page_size", "list_page_size", "token_lifetime"):
                    if name in body:
                        setattr(self, name, int(body[name]))
                if "raw_padding" in body:
                    self.raw_padding = bool(body["raw_padding"])
                if "push_on_send" in body:
                    self.push_on_send = bool(body["push_on_send"])
                if self.push is not None:
                    self.push.configure(body.get("push", {}))
                return {"page_size": self.page_size, "list_page_size": self.list_page_size,
                        "token_lifetime": self.token_lifetime, "raw_padding": self.raw_padding,
                        "push_on_send": self.push_on_send}

        def expire_tokens(body):
            with self.lock:
                for info in self.tokens.values():
                    info["expires"] = 0
                return {"expired": len(self.tokens)}

        def revoke(body):
            with self.lock:
                self.revoked.add(body["refresh_token"])
                return {"revoked": body["refresh_token"]}

        def mailbox_state(request):
            with self.lock:
                box = self.mailbox(request.arg("mailbox", self.initial_mailboxes[0]))
                if box is None:
                    raise KeyError("no mailbox")
                return {"address": box.address, "historyId": str(box.history_id), "horizon": box.horizon,
                        "watch": box.watch, "watch_calls": box.watch_calls,
                        "messages": [self.describe_message(m) for m in box.messages.values()],
                        "history": [self._history_record(r) for r in box.records]}

        def stats(request):
            with self.lock:
                return {"calls": dict(self.calls), "token_requests": dict(self.token_requests),
                        "tokens_issued": len(self.tokens)}

        def pushes(request):
            return {"pushes": self.push.attempts() if self.push else []}

        def reset(body):
            self.reset()
            if self.push:
                self.push.reset()
            return {"reset": True}

        router.add("POST", r"/_control/gmail/deliver", control(self.deliver))
        router.add("POST", r"/_control/gmail/push", control(self.send_push))
        router.add("POST", r"/_control/gmail/expire_history", control(self.expire_history))
        router.add("POST", r"/_control/gmail/labels", control(self.change_labels))
        router.add("POST", r"/_control/gmail/faults", control(faults))
        router.add("POST", r"/_control/gmail/config", control(config))
        router.add("POST", r"/_control/gmail/expire_tokens", control(expire_tokens))
        router.add("POST", r"/_control/gmail/revoke", control(revoke))
        router.add("POST", r"/_control/gmail/reset", control(reset))
        router.add("GET", r"/_control/gmail/mailbox", control(mailbox_state, with_body=False))
        router.add("GET", r"/_control/gmail/sent",
                   control(lambda request: {"sent": self.sent(request.arg("mailbox"))}, with_body=False))
        router.add("GET", r"/_control/gmail/stats", control(stats, with_body=False))
        router.add("GET", r"/_control/gmail/pushes", control(pushes, with_body=False))
        router.add("GET", r"/_control/gmail/service_account",
                   control(lambda request: self.service_account_info(self.token_url), with_body=False))
        return router

