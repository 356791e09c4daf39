#!/usr/bin/python3
"""Fills in and sends the support page in headless Chromium, as a visitor would.

Drives Debian's chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: NUL-separated JSON on file descriptors 3 and 4), so
it needs nothing beyond the Python standard library. The fields are typed
and the Send button clicked with synthetic input events, which work the same
with the page's script disabled, and every request the browser makes is
recorded. Prints one JSON object on stdout for the caller (the e2e test
support_page_test.cpp) to judge; exits non-zero only when the browser could
not be driven at all.

  support_page_browser.py --url http://support.test:8080/support \
      --map-host support.test=127.0.0.1 --script off --name ... --email ... \
      --subject ... --message ... [--screenshot out.png]
"""

import argparse
import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CHROMIUM = os.environ.get("FTE_CHROMIUM", "/usr/bin/chromium")


class Browser:
    """One headless Chromium and a DevTools session on its first page."""

    def __init__(self, host_rules, timeout):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="fte-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def wire_fds():
            # Chromium reads commands on fd 3 and writes answers on fd 4.
            # Move both above 4 first so neither dup2 clobbers the other.
            r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        args = [
            CHROMIUM, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
            "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--disable-extensions", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-proxy-server",
            # Plain http stays plain http: no automatic upgrade attempts to https.
            "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,HttpsFirstModeV2ForEngagedSites",
            "--window-size=900,900", "about:blank",
        ]
        if host_rules:
            args.insert(1, "--host-resolver-rules=" + host_rules)
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self.stderr, pass_fds=(3, 4), preexec_fn=wire_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.out = os.fdopen(to_browser_w, "wb", buffering=0)
        self.inp = os.fdopen(from_browser_r, "rb", buffering=0)
        self.next_id = 0
        self.answers = {}
        self.events = queue.Queue()
        self.lock = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.session = None

    def _read(self):
        buffer = b""
        while True:
            chunk = self.inp.read(65536)
            if not chunk:
                with self.lock:
                    self.answers[-1] = {"error": {"message": "browser closed the pipe"}}
                    self.lock.notify_all()
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self.lock:
                        self.answers[message["id"]] = message
                        self.lock.notify_all()
                else:
                    self.events.put(message)

    def call(self, method, params=None, session=True):
        with self.lock:
            self.next_id += 1
            ident = self.next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self.out.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self.lock:
            while ident not in self.answers:
                if -1 in self.answers:
                    raise RuntimeError(method + ": " + self.answers[-1]["error"]["message"])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(method + ": no answer within %ss" % self.timeout)
                self.lock.wait(left)
            answer = self.answers.pop(ident)
        if "error" in answer:
            raise RuntimeError("%s: %s" % (method, answer["error"]))
        return answer.get("result", {})

    def attach_first_page(self):
        for target in self.call("Target.getTargets", session=False)["targetInfos"]:
            if target["type"] == "page":
                self.session = self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                         session=False)["sessionId"]
                return
        raise RuntimeError("no page target")

    def drain_events(self, handler, until=None, timeout=None):
        """Hands each event to handler until until() holds (or timeout)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            if until is not None and until():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return until is None
            try:
                handler(self.events.get(timeout=min(left, 0.1)))
            except queue.Empty:
                pass

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def stderr_tail(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-3000:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--map-host", default="", help="NAME=IP: resolve NAME to IP inside the browser")
    parser.add_argument("--script", choices=("on", "off"), required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--subject", required=True)
    parser.add_argument("--message", required=True)
    parser.add_argument("--screenshot", default="")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    host_rules = ""
    if args.map_host:
        name, _, address = args.map_host.partition("=")
        host_rules = "MAP %s %s" % (name, address)

    result = {"script": args.script, "url": args.url, "requests": [], "console": [], "exceptions": []}
    browser = Browser(host_rules, args.timeout)
    loaded = {"count": 0}

    def on_event(event):
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            request = params["request"]
            result["requests"].append({
                "method": request["method"], "url": request["url"],
                "content_type": request.get("headers", {}).get("Content-Type", ""),
                "post_data": request.get("postData", ""), "type": params.get("type", ""),
                "idempotency_key": request.get("headers", {}).get("Idempotency-Key", ""),
            })
        elif method == "Page.loadEventFired":
            loaded["count"] += 1
        elif method == "Runtime.consoleAPICalled":
            result["console"].append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            result["exceptions"].append(params["exceptionDetails"].get("exception", {}).get("description", ""))

    def evaluate(expression):
        answer = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return answer.get("result", {}).get("value")

    def node(selector):
        root = browser.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        found = browser.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return found or None

    def outer_html(selector):
        found = node(selector)
        return browser.call("DOM.getOuterHTML", {"nodeId": found})["outerHTML"] if found else None

    def screenshot(path):
        data = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    try:
        browser.attach_first_page()
        for domain in ("Page", "Network", "Runtime", "DOM"):
            browser.call(domain + ".enable")
        if args.script == "off":
            browser.call("Emulation.setScriptExecutionDisabled", {"value": True})
        browser.call("Page.navigate", {"url": args.url})
        if not browser.drain_events(on_event, until=lambda: loaded["count"] >= 1):
            raise RuntimeError("the support page did not load within %ss" % args.timeout)

        # What the page's script would see (DevTools evaluates even when the
        # page's own scripts are disabled).
        result["secure_context"] = evaluate("window.isSecureContext")
        result["random_uuid"] = evaluate("typeof (window.crypto && window.crypto.randomUUID)")

        # Typed into each field the way a person would: focus, then text input.
        for field, text in (("name", args.name), ("email", args.email), ("subject", args.subject),
                            ("message", args.message)):
            found = node("[name=%s]" % field)
            if not found:
                raise RuntimeError("the page has no field named " + field)
            browser.call("DOM.focus", {"nodeId": found})
            browser.call("Input.insertText", {"text": text})
        # The category is a <select>: typing its first letters picks an option.
        select = node("select[name=category]")
        if select:
            browser.call("DOM.focus", {"nodeId": select})
            for ch in "tec":
                browser.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "key": ch})
                browser.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})
        if args.screenshot:
            screenshot(args.screenshot.replace(".png", "-filled.png"))

        button = node("button[type=submit]")
        quad = browser.call("DOM.getBoxModel", {"nodeId": button})["model"]["content"]
        x, y = (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2
        for kind in ("mousePressed", "mouseReleased"):
            browser.call("Input.dispatchMouseEvent",
                         {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

        # The outcome: with script the status line on the same page fills in;
        # without, the browser navigates to the gateway's answer page.
        # A navigation with script on is itself an outcome (the page lost its
        # script and the browser submitted the form): reported, then judged.
        def outcome_shown():
            try:
                if loaded["count"] >= 2:
                    return args.script == "on" or node("#outcome") is not None
                status = outer_html("#status") or "" if args.script == "on" else ""
                return 'class="ok"' in status or 'class="error"' in status
            except RuntimeError:
                return False  # the document is being replaced; ask again

        if not browser.drain_events(on_event, until=outcome_shown):
            raise RuntimeError("no outcome shown within %ss" % args.timeout)
        browser.drain_events(on_event, timeout=0.3)  # late events (e.g. the favicon)

        history = browser.call("Page.getNavigationHistory")
        result["final_url"] = history["entries"][history["currentIndex"]]["url"]
        shown = outer_html("#status") or outer_html("main")
        result["outcome_html"] = shown
        result["outcome_ok"] = 'class="ok"' in (shown or "")
        reference = None
        text = shown or ""
        for token in text.replace("(", " ").replace(")", " ").replace("<", " ").replace(">", " ").split():
            token = token.strip(".")
            if len(token) == 36 and token.count("-") == 4:
                reference = token
        result["reference"] = reference
        if args.screenshot:
            screenshot(args.screenshot)
    except Exception as e:  # noqa: BLE001 - reported to the caller with the browser's own words
        result["error"] = str(e)
        result["browser_stderr"] = browser.stderr_tail()
    finally:
        browser.close()

    # Convenience for the caller: any request URL carrying a query string.
    result["urls_with_query"] = [r["url"] for r in result["requests"] if urllib.parse.urlsplit(r["url"]).query]
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
