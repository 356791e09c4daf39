"""A person at the escalation desk, driven as a browser does it, hop by hop:
the authorization code flow through the identity provider's own login form
(Keycloak's, posted with the person's password), then the session cookie.
Shared by the sign-in tests and fte-local's demo; nothing here mints a token
or fakes the provider. Every unexpected hop raises AssertionError."""

import html.parser
import http.client
import http.cookies
import json
import urllib.parse

import fte_stack


class LoginForm(html.parser.HTMLParser):
    """The action of Keycloak's login form (id kc-form-login)."""

    def __init__(self):
        super().__init__()
        self.action = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "kc-form-login":
            self.action = attrs.get("action")


class Browser:
    """Cookies per host:port and one request at a time, redirects not
    followed: each hop is asserted by the test."""

    def __init__(self):
        self.cookies = {}

    def request(self, url, method="GET", body=b"", headers=None):
        parts = urllib.parse.urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        headers = dict(headers or {})
        jar = self.cookies.setdefault(parts.netloc, {})
        if jar:
            headers["Cookie"] = "; ".join("%s=%s" % item for item in jar.items())
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            # Every Set-Cookie on its own: a dict of headers keeps one.
            for raw in response.headers.get_all("Set-Cookie") or []:
                cookie = http.cookies.SimpleCookie()
                try:
                    cookie.load(raw)
                except http.cookies.CookieError:
                    continue
                for name, morsel in cookie.items():
                    if morsel["max-age"] == "0" or morsel.value == "":
                        jar.pop(name, None)
                    else:
                        jar[name] = morsel.value
            return fte_stack.HttpAnswer(response.status, text, {k.lower(): v for k, v in response.getheaders()})
        finally:
            connection.close()


def sign_in(desk, issuer, username, password, return_to="/"):
    """Signs `username` in at `desk` (http://host:port) through `issuer`;
    returns (browser, the callback's answer, the callback URL)."""
    browser = Browser()
    start = browser.request(desk + "/auth/login?return_to=" + urllib.parse.quote(return_to, safe=""))
    _expect(start.status == 302, "GET /auth/login", start)
    authorize = start.headers["location"]
    _expect(authorize.startswith(issuer + "/protocol/openid-connect/auth?"), "the provider's authorize URL", authorize)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    _expect(query.get("code_challenge_method") == ["S256"], "PKCE with S256", query)
    _expect(query.get("redirect_uri") == [desk + "/auth/callback"], "the desk's redirect URI", query)
    page = browser.request(authorize)
    _expect(page.status == 200, "the provider's login page", page)
    form = LoginForm()
    form.feed(page.body)
    _expect(form.action is not None, "kc-form-login on the provider's page", page.body[:500])
    posted = browser.request(form.action, "POST",
                             urllib.parse.urlencode({"username": username, "password": password, "credentialId": ""}),
                             {"Content-Type": "application/x-www-form-urlencoded"})
    _expect(posted.status == 302, "the login form's answer", posted)
    back = posted.headers["location"]
    _expect(back.startswith(desk + "/auth/callback?"), "a redirect back to the desk", back)
    return browser, browser.request(back), back


class Desk:
    """A signed-in person's calls to the desk's JSON API, with the CSRF
    token and this site's Origin on every change."""

    def __init__(self, desk, issuer, username, password):
        self.desk = desk
        self.browser, callback, _ = sign_in(desk, issuer, username, password)
        _expect(callback.status == 303, "the callback's answer", callback)
        self.csrf = self.call("GET", "/api/me")[1]["csrf_token"]

    def call(self, method, path, body=None, headers=None):
        """Returns (status, parsed JSON body)."""
        headers = dict(headers or {})
        if method != "GET":
            headers.update({"X-CSRF-Token": getattr(self, "csrf", ""), "Origin": self.desk})
        data = b""
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        answer = self.browser.request(self.desk + path, method, data, headers)
        return answer.status, (json.loads(answer.body) if answer.body else None)


def _expect(condition, what, seen):
    if not condition:
        raise AssertionError("desk sign-in: unexpected %s: %r" % (what, seen))
