"""Google's signing keys for Pub/Sub push OIDC tokens, simulated.

GoogleKeys holds RSA key pairs (python3-cryptography) and serves them as
Google's JWKS document (`GET /oauth2/v3/certs`, cached by Cache-Control like
Google's). `mint` makes the ID token a Pub/Sub push subscription sends in
`Authorization: Bearer`, and `mint_case` every bad variant a verifier must
refuse. Tokens are signed with PyJWT (python3-jwt), independently of fte's
own verifier; the hostile ones (alg none, HS256 keyed with the public key) are
put together by hand because a careful library refuses to make them.
"""

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import fakehttp

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_ISSUER_SHORT = "accounts.google.com"
DEFAULT_SERVICE_ACCOUNT = "gmail-push@fte-local.iam.gserviceaccount.com"
DEFAULT_AUDIENCE = "https://support.example.test/webhooks/gmail"

# Every token a verifier must refuse, with the answer fte's gateway gives
# (PLAN.md, HTTP answers): 401 for a token that is not valid, 403 for a valid
# token that is not for us.
BAD_CASES = {
    "expired": 401,
    "not_yet_valid": 401,
    "unknown_kid": 401,
    "alg_none": 401,
    "hs256_public_key": 401,
    "bad_signature": 401,
    "malformed": 401,
    "wrong_audience": 403,
    "wrong_issuer": 403,
    "wrong_email": 403,
    "email_unverified": 403,
}
GOOD_CASES = ("valid", "issuer_short")
# Refused by a verifier that selects the key by kid (Google always sends
# one); one that tries every published key would accept it, soundly.
STRICT_CASES = {"no_kid": 401}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_b64(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


class SigningKey:
    def __init__(self, kid=None, bits=2048):
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self.kid = kid or secrets.token_hex(20)  # Google's kids are 40 hex digits

    def private_pem(self):
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def public_pem(self):
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def jwk(self):
        numbers = self.private_key.public_key().public_numbers()

        def to_b64(n):
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": to_b64(numbers.n), "e": to_b64(numbers.e)}


class GoogleKeys:
    """The keys Google publishes, with rotation the way Google does it: a new
    key appears beside the old one, which disappears later."""

    def __init__(self, max_age=19800):
        self.lock = threading.Lock()
        self.published = [SigningKey()]
        # Signs tokens whose kid Google never published.
        self.unpublished = SigningKey()
        self.max_age = max_age
        self.fetches = 0
        self.fail_next = 0  # JWKS fetches still to answer 500
        self.fail_status = 500

    @property
    def current(self):
        with self.lock:
            return self.published[-1]

    def rotate(self, drop_old=False):
        key = SigningKey()
        with self.lock:
            self.published = [key] if drop_old else [self.published[-1], key]
        return key

    def jwks(self):
        with self.lock:
            return {"keys": [k.jwk() for k in self.published]}

    def mint(self, audience=DEFAULT_AUDIENCE, email=DEFAULT_SERVICE_ACCOUNT, issuer=GOOGLE_ISSUER, lifetime=3600,
             issued_at=None, email_verified=True, key=None, headers=None, extra=None):
        """A Pub/Sub push ID token as Google makes it (RS256, kid, iss, aud,
        azp, email, email_verified, sub, iat, exp)."""
        now = int(time.time()) if issued_at is None else int(issued_at)
        key = key or self.current
        # Google puts the service account's unique id (21 digits) in azp and sub.
        unique_id = "1" + str(int(hashlib.sha256(email.encode("utf-8")).hexdigest(), 16))[:20]
        claims = {
            "aud": audience,
            "azp": unique_id,
            "email": email,
            "email_verified": email_verified,
            "exp": now + lifetime,
            "iat": now,
            "iss": issuer,
            "sub": unique_id,
        }
        claims.update(extra or {})
        header = {"kid": key.kid, "typ": "JWT"}
        header.update(headers or {})
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=header)

    def mint_case(self, case, audience=DEFAULT_AUDIENCE, email=DEFAULT_SERVICE_ACCOUNT):
        """A token for `case`: "valid", "issuer_short", or one of BAD_CASES."""
        now = int(time.time())
        if case == "valid":
            return self.mint(audience, email)
        if case == "issuer_short":
            return self.mint(audience, email, issuer=GOOGLE_ISSUER_SHORT)
        if case == "expired":
            # Well beyond any clock-skew allowance.
            return self.mint(audience, email, issued_at=now - 7200, lifetime=3600)
        if case == "not_yet_valid":
            return self.mint(audience, email, issued_at=now + 3600, extra={"nbf": now + 3600})
        if case == "wrong_audience":
            return self.mint("https://attacker.example.net/push", email)
        if case == "wrong_issuer":
            return self.mint(audience, email, issuer="https://accounts.example.net")
        if case == "wrong_email":
            return self.mint(audience, "someone-else@attacker-project.iam.gserviceaccount.com")
        if case == "email_unverified":
            return self.mint(audience, email, email_verified=False)
        if case == "unknown_kid":
            return self.mint(audience, email, key=self.unpublished)
        if case == "no_kid":
            token = self.mint(audience, email)
            head, payload, signature = token.split(".")
            return _json_b64({"alg": "RS256", "typ": "JWT"}) + "." + payload + "." + signature
        if case == "bad_signature":
            token = self.mint(audience, email)
            head, payload, signature = token.split(".")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            claims["exp"] = claims["exp"] + 1  # one claim changed after signing
            return head + "." + _json_b64(claims) + "." + signature
        if case == "alg_none":
            token = self.mint(audience, email)
            payload = token.split(".")[1]
            return _json_b64({"alg": "none", "kid": self.current.kid, "typ": "JWT"}) + "." + payload + "."
        if case == "hs256_public_key":
            # The classic key-confusion attack: HMAC keyed with the RSA public key's PEM.
            key = self.current
            token = self.mint(audience, email)
            payload = token.split(".")[1]
            head = _json_b64({"alg": "HS256", "kid": key.kid, "typ": "JWT"})
            mac = hmac.new(key.public_pem().encode("ascii"), (head + "." + payload).encode("ascii"), hashlib.sha256)
            return head + "." + payload + "." + b64url(mac.digest())
        if case == "malformed":
            return "not-a-jwt"
        raise ValueError("unknown token case %r (known: %s)" % (
            case, ", ".join(GOOD_CASES + tuple(BAD_CASES) + tuple(STRICT_CASES))))

    def router(self, log):
        router = fakehttp.Router("google-jwks")

        def certs(request):
            with self.lock:
                self.fetches += 1
                failing = self.fail_next > 0
                if failing:
                    self.fail_next -= 1
            if failing:
                return fakehttp.json_response(self.fail_status, {"error": {"code": self.fail_status, "message": "Backend Error"}})
            now = time.time()
            return fakehttp.json_response(200, self.jwks(), [
                ("Cache-Control", "public, max-age=%d, must-revalidate, no-transform" % self.max_age),
                ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
                ("Expires", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + self.max_age))),
            ])

        def rotate(request):
            body = request.json()
            key = self.rotate(drop_old=bool(body.get("drop_old", False)))
            log("google-jwks", "rotated: new kid %s%s" % (key.kid, " (old keys dropped)" if body.get("drop_old") else ""))
            return fakehttp.json_response(200, {"kid": key.kid, "keys": [k["kid"] for k in self.jwks()["keys"]]})

        def fail(request):
            body = request.json()
            with self.lock:
                self.fail_next = int(body.get("count", 1))
                self.fail_status = int(body.get("status", 500))
            return fakehttp.json_response(200, {"fail_next": self.fail_next, "status": self.fail_status})

        def config(request):
            body = request.json()
            if "max_age" in body:
                self.max_age = int(body["max_age"])
            return fakehttp.json_response(200, {"max_age": self.max_age})

        def stats(request):
            with self.lock:
                return fakehttp.json_response(200, {"fetches": self.fetches, "kids": [k.kid for k in self.published]})

        def mint(request):
            body = request.json()
            try:
                token = self.mint_case(body.get("case", "valid"), body.get("audience", DEFAULT_AUDIENCE),
                                       body.get("email", DEFAULT_SERVICE_ACCOUNT))
            except ValueError as error:
                return fakehttp.json_response(400, {"error": str(error)})
            return fakehttp.json_response(200, {"token": token})

        router.add("GET", r"/oauth2/v3/certs", certs)
        router.add("POST", r"/_control/jwks/rotate", rotate)
        router.add("POST", r"/_control/jwks/fail", fail)
        router.add("POST", r"/_control/jwks/config", config)
        router.add("GET", r"/_control/jwks/stats", stats)
        router.add("POST", r"/_control/jwks/mint", mint)
        return router
