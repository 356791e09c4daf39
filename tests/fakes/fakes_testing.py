"""Helpers for the simulators' own unit tests: a recording HTTP receiver
standing in for fte's gateway, and JSON calls."""

import base64
import json
import threading
import time
import urllib.parse

import fakehttp


class Receiver:
    """Records every request; answers with the queued statuses, then `default`."""

    def __init__(self, default=204):
        self.lock = threading.Lock()
        self.requests = []
        self.answers = []
        self.default = default
        router = fakehttp.Router("receiver")
        router.add("POST", r"/.*", self._record)
        self.server = fakehttp.Server(router, log=fakehttp.Log(quiet=True)).start()

    def _record(self, request):
        with self.lock:
            self.requests.append(request)
            status = self.answers.pop(0) if self.answers else self.default
        return fakehttp.Response(status, b"" if status == 204 else b"ok")

    def url(self, path):
        return self.server.url + path

    def wait_for(self, count, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.server.stop()


def form_of(request):
    return dict(urllib.parse.parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))


def call(method, url, body=None, headers=None, form=None, auth=None):
    """(status, parsed JSON or text, headers)."""
    headers = dict(headers or {})
    data = b""
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode("utf-8")
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif body is not None:
        data = json.dumps(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
    answer = fakehttp.http_call(method, url, data, headers)
    try:
        parsed = json.loads(answer.body) if answer.body else None
    except ValueError:
        parsed = answer.body
    return answer.status, parsed, answer.headers
