"""The fake JWKS and the minted Pub/Sub push tokens: a valid token passes a
strict reference verifier and each bad case fails it for the reason it is
named after (so the channel tests' 401/403 cases test what they claim)."""

import base64
import json
import time
import unittest

import jwt

import fakehttp
import google_tokens
from fakes_testing import call

AUDIENCE = google_tokens.DEFAULT_AUDIENCE
ACCOUNT = google_tokens.DEFAULT_SERVICE_ACCOUNT


def reference_verify(token, jwks, audience=AUDIENCE, service_account=ACCOUNT):
    """What a correct verifier answers (PLAN.md): 401 for an invalid token,
    403 for a valid token that is not for us, 200 otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return 401
    if header.get("alg") != "RS256":  # pinned: never taken from the token
        return 401
    keys = {k["kid"]: k for k in jwks["keys"]}
    if header.get("kid") not in keys:
        return 401
    try:
        claims = jwt.decode(token, jwt.PyJWK(keys[header["kid"]]).key, algorithms=["RS256"], leeway=60,
                            options={"verify_aud": False, "require": ["exp", "iat", "iss", "aud"]})
    except jwt.PyJWTError:
        return 401
    if claims["iss"] not in (google_tokens.GOOGLE_ISSUER, google_tokens.GOOGLE_ISSUER_SHORT):
        return 403
    if claims["aud"] != audience:
        return 403
    if claims.get("email") != service_account or claims.get("email_verified") is not True:
        return 403
    return 200


class MintedTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = google_tokens.GoogleKeys()

    def test_a_valid_token_looks_like_googles(self):
        token = self.keys.mint_case("valid")
        header = jwt.get_unverified_header(token)
        self.assertEqual((header["alg"], header["kid"], header["typ"]), ("RS256", self.keys.current.kid, "JWT"))
        claims = jwt.decode(token, options={"verify_signature": False})
        self.assertEqual(set(claims), {"aud", "azp", "email", "email_verified", "exp", "iat", "iss", "sub"})
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        self.assertRegex(claims["sub"], r"^\d{21}$")
        self.assertEqual(reference_verify(token, self.keys.jwks()), 200)
        self.assertEqual(reference_verify(self.keys.mint_case("issuer_short"), self.keys.jwks()), 200)

    def test_every_bad_case_fails_as_named(self):
        for case, expected in dict(google_tokens.BAD_CASES, **google_tokens.STRICT_CASES).items():
            with self.subTest(case=case):
                self.assertEqual(reference_verify(self.keys.mint_case(case), self.keys.jwks()), expected)

    def test_the_hostile_headers(self):
        none = self.keys.mint_case("alg_none")
        self.assertEqual(json.loads(base64.urlsafe_b64decode(none.split(".")[0] + "==")), {
            "alg": "none", "kid": self.keys.current.kid, "typ": "JWT"})
        self.assertTrue(none.endswith("."), "no signature")
        confused = self.keys.mint_case("hs256_public_key")
        self.assertEqual(jwt.get_unverified_header(confused)["alg"], "HS256")
        unknown = self.keys.mint_case("unknown_kid")
        self.assertNotIn(jwt.get_unverified_header(unknown)["kid"], [k["kid"] for k in self.keys.jwks()["keys"]])

    def test_unknown_case_is_refused(self):
        with self.assertRaises(ValueError):
            self.keys.mint_case("nonsense")


class JwksEndpoint(unittest.TestCase):
    def setUp(self):
        self.keys = google_tokens.GoogleKeys(max_age=1234)
        log = fakehttp.Log(quiet=True)
        self.server = fakehttp.Server(self.keys.router(log), log=log).start()

    def tearDown(self):
        self.server.stop()

    def certs(self):
        return call("GET", self.server.url + "/oauth2/v3/certs")

    def test_jwks_document_and_cache_control(self):
        status, body, headers = self.certs()
        self.assertEqual(status, 200)
        self.assertEqual(len(body["keys"]), 1)
        key = body["keys"][0]
        self.assertEqual((key["kty"], key["alg"], key["use"], key["e"]), ("RSA", "RS256", "sig", "AQAB"))
        self.assertEqual(key["kid"], self.keys.current.kid)
        self.assertEqual(headers["Cache-Control"], "public, max-age=1234, must-revalidate, no-transform")
        self.assertIn("Expires", headers)
        token = self.keys.mint()
        self.assertEqual(jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=AUDIENCE)["email"], ACCOUNT)

    def test_rotation_publishes_the_new_key_beside_the_old(self):
        old = self.keys.current.kid
        status, rotated, _ = call("POST", self.server.url + "/_control/jwks/rotate", {})
        self.assertEqual([k["kid"] for k in self.certs()[1]["keys"]], [old, rotated["kid"]])
        token_from_old_key = self.keys.mint(key=self.keys.published[0])
        self.assertEqual(reference_verify(token_from_old_key, self.certs()[1]), 200)
        call("POST", self.server.url + "/_control/jwks/rotate", {"drop_old": True})
        self.assertEqual(reference_verify(token_from_old_key, self.certs()[1]), 401, "its kid is gone")
        self.assertEqual(call("GET", self.server.url + "/_control/jwks/stats")[1]["fetches"], 3)

    def test_outage_and_minting_control(self):
        call("POST", self.server.url + "/_control/jwks/fail", {"count": 2})
        self.assertEqual([self.certs()[0] for _ in range(3)], [500, 500, 200])
        status, body, _ = call("POST", self.server.url + "/_control/jwks/mint", {"case": "wrong_audience"})
        self.assertEqual(status, 200)
        self.assertEqual(reference_verify(body["token"], self.keys.jwks()), 403)
        self.assertEqual(call("POST", self.server.url + "/_control/jwks/mint", {"case": "x"})[0], 400)


if __name__ == "__main__":
    unittest.main()
