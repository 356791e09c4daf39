"""Webhooks as Twilio sends them: the form fields of an inbound WhatsApp
message or a status callback, signed with X-Twilio-Signature by Twilio's own
Python helper library (python3-twilio's RequestValidator), so a test never
signs with the code it is testing.

Debian's twilio 7.7.1 signs a dict (one value per name), which is what
Twilio's WhatsApp webhooks carry: media come as MediaUrl0, MediaUrl1, ...
"""

import secrets
import urllib.parse
import uuid

from twilio.request_validator import RequestValidator

import fakehttp

API_VERSION = "2010-04-01"
USER_AGENT = "TwilioProxy/1.1"


def new_sid(prefix):
    """A Twilio resource sid: two letters and 32 hex digits (SM..., MM..., AC...)."""
    return prefix + secrets.token_hex(16)


def whatsapp(address):
    return address if address.startswith("whatsapp:") else "whatsapp:" + address


def inbound_message_params(account_sid, sender, recipient, body="", profile_name="Test Customer", media=(),
                           message_sid=None, messaging_service_sid=None, extra=None):
    """The form fields of an inbound WhatsApp message (`sender` and
    `recipient` in E.164; media as [{"url", "content_type"}])."""
    sid = message_sid or new_sid("SM" if not media else "MM")
    params = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ProfileName": profile_name,
        "MessageType": "text" if not media else "image",
        "SmsSid": sid,
        "WaId": whatsapp(sender)[len("whatsapp:+"):],
        "SmsStatus": "received",
        "Body": body,
        "To": whatsapp(recipient),
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": whatsapp(sender),
        "ApiVersion": API_VERSION,
    }
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    for i, item in enumerate(media):
        params["MediaUrl%d" % i] = item["url"]
        params["MediaContentType%d" % i] = item.get("content_type", "image/jpeg")
    params.update(extra or {})
    return params


def status_callback_params(message, status, error_code=None):
    """The form fields of a status callback for `message` (the fake's stored
    message: sid, account_sid, from, to, messaging_service_sid)."""
    params = {
        "AccountSid": message["account_sid"],
        "ApiVersion": API_VERSION,
        "MessageSid": message["sid"],
        "MessageStatus": status,
        "SmsSid": message["sid"],
        "SmsStatus": status,
        "To": message["to"],
        "StructuredMessage": "false",
    }
    if message.get("from"):
        params["From"] = message["from"]
    if message.get("messaging_service_sid"):
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    if message["to"].startswith("whatsapp:"):
        params["ChannelPrefix"] = "whatsapp"
        params["ChannelToAddress"] = message["to"][len("whatsapp:"):]
        params["ChannelInstallSid"] = "XE" + "0" * 32
        if status in ("delivered", "read"):
            params["EventType"] = status.upper()
    if error_code:
        params["ErrorCode"] = str(error_code)
    return params


def sign(auth_token, url, params):
    """X-Twilio-Signature of a form POST to `url` (the URL exactly as Twilio
    requests it)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def validate(auth_token, url, params, signature):
    return RequestValidator(auth_token).validate(url, params, signature)


def post_signed(url, params, auth_token=None, signature=None, connect_url=None, idempotency_token=None,
                extra_headers=None, timeout=15.0):
    """POSTs the form to `url` signed with `auth_token` (or with `signature`
    as given, or unsigned when both are None). `connect_url` is where the
    request really goes when `url` is the public address of something behind
    a proxy: Twilio signs the public URL."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": USER_AGENT,
        "I-Twilio-Idempotency-Token": idempotency_token or str(uuid.uuid4()),
    }
    if signature is None and auth_token is not None:
        signature = sign(auth_token, url, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    headers.update(extra_headers or {})
    body = urllib.parse.urlencode(params).encode("utf-8")
    return fakehttp.http_call("POST", connect_url or url, body, headers, timeout)


class Routes:
    """Where requests to public URLs really go, like a load balancer in
    front of the gateway: {"https://support.example.test": "http://127.0.0.1:PORT"}."""

    def __init__(self, routes=None):
        self.routes = dict(routes or {})

    def resolve(self, url):
        for public, local in sorted(self.routes.items(), key=lambda item: -len(item[0])):
            if url == public or url.startswith(public.rstrip("/") + "/"):
                return local.rstrip("/") + url[len(public.rstrip("/")):]
        return url
