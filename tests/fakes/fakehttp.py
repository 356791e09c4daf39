"""A small HTTP layer the provider simulators share.

Each simulator is a Router of (method, path pattern) -> handler; `serve`
runs one on a ThreadingHTTPServer in a daemon thread. HTTP/1.1 with
keep-alive, because the clients under test (libcurl) reuse connections and a
simulator that closed every connection would hide connection-reuse bugs.
"""

import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a client opening many connections
    # at once (the LLM adapter's batch) would see SYNs dropped and retried a
    # second later, which is the simulator's doing, not the client's.
    request_queue_size = 1024


class Request:
    def __init__(self, method, target, headers, body, client_address):
        self.method = method
        self.target = target
        parts = urllib.parse.urlsplit(target)
        self.path = parts.path
        self.query_string = parts.query
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers  # email.message.Message: case-insensitive get()
        self.body = body
        self.client_address = client_address
        self.params = {}  # named groups of the matched route

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def form_pairs(self):
        """The form body as (name, value) pairs, repeated names kept in order."""
        return urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)

    def json(self):
        if not self.body:
            return {}
        return json.loads(self.body.decode("utf-8"))


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status = status
        self.headers = list(headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if content_type:
            self.headers.append(("Content-Type", content_type))
        # Set by a handler that wants the connection dropped without an
        # answer (a provider that accepted a request and then failed).
        self.drop_connection = False


def json_response(status, payload, headers=None):
    return Response(status, json.dumps(payload, separators=(",", ":")), headers, "application/json; charset=UTF-8")


def control_handler(fn, with_body=True):
    """A control-API route: fn(body) (or fn(request)) answered as JSON 200; a
    malformed control request is the test's mistake, answered 400 naming it."""
    def handler(request):
        try:
            return json_response(200, fn(request.json() if with_body else request))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return json_response(400, {"error": "%s: %s" % (type(error).__name__, error)})
    return handler


def empty_response(status=204, headers=None):
    return Response(status, b"", headers)


def dropped_connection():
    response = Response(0)
    response.drop_connection = True
    return response


class Router:
    def __init__(self, name):
        self.name = name
        self.routes = []

    def add(self, method, pattern, handler):
        """`pattern` is a regular expression over the path, anchored at both ends."""
        self.routes.append((method, re.compile("^" + pattern + "$"), handler))

    def dispatch(self, request):
        allowed = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method:
                allowed = True
                continue
            request.params = match.groupdict()
            return handler(request)
        if allowed:
            return json_response(405, {"error": "method not allowed"})
        return json_response(404, {"error": "no route for " + request.path})


class Log:
    """One line per event on stderr, prefixed with the simulator's name."""

    def __init__(self, quiet=False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()

    def __call__(self, name, message):
        if self.quiet:
            return
        with self.lock:
            stamp = time.strftime("%H:%M:%S", time.gmtime()) + ".%03d" % (int(time.time() * 1000) % 1000)
            self.stream.write("%s %s: %s\n" % (stamp, name, message))
            self.stream.flush()


def _handler_class(router, log):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fte-fake/" + router.name
        sys_version = ""

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            request = Request(self.command, self.path, self.headers, body, self.client_address)
            try:
                response = router.dispatch(request)
            except Exception as error:  # a simulator bug must show, not hang the client
                log(router.name, "handler error on %s %s: %r" % (self.command, self.path, error))
                response = json_response(500, {"error": "simulator error: %r" % (error,)})
            if response.drop_connection:
                log(router.name, "%s %s -> connection dropped" % (self.command, request.path))
                self.close_connection = True
                return
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD" and response.body:
                self.wfile.write(response.body)
            if not request.path.startswith("/_control"):
                log(router.name, "%s %s -> %d" % (self.command, request.path, response.status))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
            pass  # _serve logs one line per request itself

    return Handler


class Server:
    """A Router served on host:port (port 0 = any free port) in a daemon thread."""

    def __init__(self, router, host="127.0.0.1", port=0, log=None):
        self.router = router
        self.log = log or Log()
        self.httpd = _Server((host, port), _handler_class(router, self.log))
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        # A short poll interval: stop() waits for it, and tests stop many servers.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="fake-" + router.name,
                                       daemon=True)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class Answer:
    """What an outgoing call (a callback, a push) got back."""

    def __init__(self, status, body, headers, error=None):
        self.status = status
        self.body = body
        self.headers = headers
        self.error = error

    def as_dict(self):
        return {"status": self.status, "body": self.body[:2000], "error": self.error}


def http_call(method, url, body=b"", headers=None, timeout=15.0):
    """One request; never raises: status 0 and `error` when nothing answered."""
    request = urllib.request.Request(url, data=body if method != "GET" else None, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return Answer(reply.status, reply.read().decode("utf-8", "replace"), dict(reply.headers.items()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode("utf-8", "replace"), dict(error.headers.items()))
    except (urllib.error.URLError, OSError) as error:
        return Answer(0, "", {}, str(getattr(error, "reason", error)))
