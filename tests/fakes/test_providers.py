"""providers.py as fte-local runs it: one process, a ready line, an env
file for the services, the control CLI, a clean exit on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class ProvidersProcess(unittest.TestCase):
    def test_starts_serves_and_stops(self):
        with tempfile.TemporaryDirectory() as tmp:
            env_file = os.path.join(tmp, "env")
            account_file = os.path.join(tmp, "sa.json")
            process = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "providers.py"), "--quiet", "--env-file", env_file,
                 "--service-account-file", account_file, "--public-base-url", "http://127.0.0.1:8080",
                 "--inbound-url", "http://127.0.0.1:1/webhooks/twilio/whatsapp"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                ready = process.stdout.readline()
                self.assertIn("fte provider simulators ready", ready, process.stderr.read() if not ready else "")
                twilio = re.search(r"twilio (http://\S+)", ready).group(1)
                gmail = re.search(r"gmail (http://\S+)", ready).group(1)
                jwks = re.search(r"google jwks (http://\S+)/oauth2", ready).group(1)
                with open(env_file) as f:
                    env = dict(re.findall(r"^export (\w+)=(.*)$", f.read(), re.M))
                self.assertEqual(env["FTE_TWILIO_API_BASE_URL"], twilio)
                self.assertEqual(env["FTE_GMAIL_API_BASE_URL"], gmail)
                self.assertEqual(env["FTE_GOOGLE_TOKEN_URL"], gmail + "/token")
                self.assertEqual(env["FTE_GOOGLE_JWKS_URL"], jwks + "/oauth2/v3/certs")
                self.assertEqual(env["FTE_PUBLIC_BASE_URL"], "http://127.0.0.1:8080")
                for name in ("FTE_TWILIO_ACCOUNT_SID", "FTE_TWILIO_AUTH_TOKEN", "FTE_GMAIL_PUSH_AUDIENCE",
                             "FTE_GMAIL_PUSH_SERVICE_ACCOUNT", "FTE_GMAIL_CLIENT_ID", "FTE_GMAIL_CLIENT_SECRET",
                             "FTE_GMAIL_REFRESH_TOKEN", "FTE_REPLY_FROM_EMAIL", "FTE_MESSAGE_ID_DOMAIN"):
                    self.assertTrue(env.get(name), name)
                with open(account_file) as f:
                    account = json.load(f)
                self.assertEqual(account["token_uri"], gmail + "/token")
                self.assertEqual(oct(os.stat(account_file).st_mode & 0o777), "0o600")

                def fakectl(*args):
                    out = subprocess.run([sys.executable, os.path.join(HERE, "fakectl.py")] + list(args),
                                         capture_output=True, text=True, timeout=60)
                    self.assertEqual(out.returncode, 0, out.stderr)
                    return json.loads(out.stdout)

                delivered = fakectl("--gmail", gmail, "gmail-deliver", "--from", "ada@example.org", "--subject", "Hi",
                                    "--body", "Hello")
                self.assertEqual(delivered["pushes"], [], "no push endpoint configured")
                token = fakectl("--jwks", jwks, "mint", "--case", "expired")["token"]
                self.assertEqual(token.count("."), 2)
                # The gateway is not there: the inbound webhook reports that, it does not hang.
                inbound = fakectl("--twilio", twilio, "whatsapp-inbound", "--from", "+15551230001", "--body", "Hi")
                self.assertEqual(inbound["answers"][0]["status"], 0)
                self.assertEqual(fakectl("--twilio", twilio, "twilio-messages"), [])
            finally:
                process.send_signal(signal.SIGTERM)
                out, err = process.communicate(timeout=10)
            self.assertEqual(process.returncode, 0, err)
            self.assertIn("stopped", out)


if __name__ == "__main__":
    unittest.main()
