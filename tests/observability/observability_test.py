"""The observability kit checked with real tools (ctest label `observability`).

RulesAndDashboard: promtool checks the alert rules and runs their unit tests
(fte-rules.test.yaml: each alert firing and not firing); the dashboard is
usable standalone (a `datasource` variable, every panel on it).

PrometheusScrapesTheServices: Debian's Prometheus, run as a child process on
a free port with a scratch data dir, scrapes the four services of a Suite
after traffic went through (with the provider simulators: a submission
answered by email, one escalated, one refused, a poison record dead-lettered) and, through its HTTP API, must find at least one
series for every metric name any dashboard panel or alert expression uses,
load the rules without an evaluation error, and fire FteDeadLettered.

Missing promtool or prometheus fails the test with the reason (fte-local
installs Debian's `prometheus` package); it never skips.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import yaml

import channels
import fte_stack

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RULES = os.path.join(ROOT, "deploy", "helm", "fte", "alerts", "fte-rules.yaml")
RULE_TESTS = os.path.join(ROOT, "tests", "observability", "fte-rules.test.yaml")
DASHBOARD = os.path.join(ROOT, "deploy", "helm", "fte", "dashboards", "fte-overview.json")

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "inf", "nan", "atan2", "start", "end"}


def tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError("%s not found on PATH: install Debian's `prometheus` package "
                             "(deploy/local/fte-local installs it with the other packages)" % name)
    return path


def metric_names(expr):
    """Metric names a PromQL expression selects: identifiers that are not
    followed by `(` (functions, aggregations), not label names (inside
    `{}`, `by ()`, `on ()`...), not durations and not keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"'(?:[^'\\]|\\.)*'", "''", e)
    e = re.sub(r"`[^`]*`", "``", e)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the unit of a duration or an exponent: 5m, 1e3
        if e[m.end():].lstrip().startswith("("):
            continue
        if m.group(0).lower() in KEYWORDS:
            continue
        names.add(m.group(0))
    return names


def dashboard_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold theirs


def dashboard_expressions():
    with open(DASHBOARD, encoding="utf-8") as f:
        dashboard = json.load(f)
    return [(panel["title"], target["expr"]) for panel in dashboard_panels(dashboard)
            for target in panel.get("targets", []) if target.get("expr")]


def alert_expressions():
    with open(RULES, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    return [(rule.get("alert") or rule.get("record"), rule["expr"]) for group in rules["groups"]
            for rule in group["rules"]]


class RulesAndDashboard(unittest.TestCase):
    def run_tool(self, args, cwd=None):
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)
        self.assertEqual(result.returncode, 0, "%s:\n%s%s" % (" ".join(args), result.stdout, result.stderr))
        return result.stdout

    def test_promtool_check_rules(self):
        out = self.run_tool([tool("promtool"), "check", "rules", RULES])
        self.assertIn("SUCCESS", out)

    def test_promtool_unit_tests_cover_every_alert(self):
        self.run_tool([tool("promtool"), "test", "rules", os.path.basename(RULE_TESTS)], cwd=os.path.dirname(RULE_TESTS))
        with open(RULE_TESTS, encoding="utf-8") as f:
            tests = yaml.safe_load(f)["tests"]
        firing, quiet = set(), set()
        for test in tests:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
        alerts = {name for name, _ in alert_expressions()}
        self.assertEqual(alerts - firing, set(), "alerts without a firing case")
        self.assertEqual(alerts - quiet, set(), "alerts without a not-firing case")

    def test_dashboard_is_standalone_on_a_datasource_variable(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dashboard = json.load(f)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual((variables["datasource"]["type"], variables["datasource"]["query"]),
                         ("datasource", "prometheus"))
        for panel in dashboard_panels(dashboard):
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"]["uid"], "${datasource}", panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"]["uid"], "${datasource}", panel["title"])

    def test_metric_names_are_read_from_expressions(self):
        self.assertEqual(metric_names('histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{x="y(z)"}[5m]))) > 10'),
                         {"a_bucket"})
        self.assertEqual(metric_names('sum(b) by (group) / on (job) group_left (c) d offset 5m unless e'),
                         {"b", "d", "e"})
        self.assertEqual(metric_names('label_replace(rate(f[$__rate_interval]), "ch", "$1", "route", "(.*)") + 1e3'),
                         {"f"})


class PrometheusScrapesTheServices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        cls.prometheus_bin = tool("prometheus")
        # With the provider simulators, so replies are really sent (the
        # reply panels' series exist only after a send).
        cls.stack = channels.ChannelStack(prefix="obs")
        cls.addClassCleanup(cls.stack.close)
        cls.suite = cls.stack.suite
        cls.make_traffic()
        cls.start_prometheus()

    @classmethod
    def post_form(cls, email, subject, message):
        body = json.dumps({"name": "Obs", "email": email, "subject": subject, "message": message}).encode()
        return fte_stack.http_request(cls.suite.gateway_port, "POST", "/webhooks/webform", body,
                                      {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})

    @classmethod
    def make_traffic(cls):
        suite = cls.suite
        answers = [cls.post_form("obs@example.com", "Invoices", "Where can I download my invoices?"),
                   cls.post_form("obs@example.com", "Help", "Please let me talk to a human about my order.")]
        for answer in answers:
            if answer.status != 202:
                raise AssertionError("submission not accepted: %r" % answer)
        # A refused one, so the refused-requests panel has a series too.
        refused = fte_stack.http_request(suite.gateway_port, "POST", "/webhooks/webform", b"{}",
                                         {"Content-Type": "application/json"})
        if refused.status < 400:
            raise AssertionError("an empty form was not refused: %r" % refused)
        # A record that is not an event: the normalizer dead-letters it.
        suite.topics.kafka.produce(suite.topics["webform_inbound"], 0, b"obs-poison", b"not json")
        checks = {
            "an escalation filed": lambda: suite.database.count("SELECT count(*) FROM escalations") >= 1,
            "a record in the DLQ": lambda: suite.records_on("dlq") >= 1,
            "reply sent": lambda: cls.stack.gmail_sent_to("obs@example.com"),
        }
        for what, check in checks.items():
            if not fte_stack.eventually(check, 60, 0.2):
                raise AssertionError("traffic: no %s within 60 s\n%s" % (what, cls.stack.logs()))
        if not suite.wait_until_drained(60):
            raise AssertionError("groups not drained within 60 s\n%s" % suite.logs())

    @classmethod
    def start_prometheus(cls):
        cls.scratch = tempfile.mkdtemp(prefix="fte-obs-prometheus.")
        cls.addClassCleanup(shutil.rmtree, cls.scratch, True)
        cls.port = fte_stack.free_port()
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [RULES],
            "scrape_configs": [{"job_name": service,
                                "static_configs": [{"targets": ["127.0.0.1:%d" % cls.suite.admin_port(service)]}]}
                               for service in fte_stack.SERVICES],
        }
        config_path = os.path.join(cls.scratch, "prometheus.yml")
        with open(config_path, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f)
        cls.prometheus_log = open(os.path.join(cls.scratch, "prometheus.log"), "wb")
        cls.prometheus = subprocess.Popen(
            [cls.prometheus_bin, "--config.file=" + config_path, "--storage.tsdb.path=" + os.path.join(cls.scratch, "data"),
             "--web.listen-address=127.0.0.1:%d" % cls.port, "--storage.tsdb.retention.time=1h"],
            stdout=cls.prometheus_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        cls.addClassCleanup(cls.stop_prometheus)
        every_target_up = lambda: len([s for s in cls.query_or_none("up == 1") or []]) == len(fte_stack.SERVICES)
        if not fte_stack.eventually(every_target_up, 60, 0.5):
            raise AssertionError("Prometheus did not scrape the four services within 60 s:\n%s" % cls.prometheus_output())

    @classmethod
    def stop_prometheus(cls):
        if cls.prometheus.poll() is None:
            cls.prometheus.terminate()
            try:
                cls.prometheus.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cls.prometheus.kill()
                cls.prometheus.wait(timeout=30)
        cls.prometheus_log.close()
        print("observability: suite, traffic, Prometheus and checks took %.1f s" % (time.monotonic() - cls.started))

    @classmethod
    def prometheus_output(cls):
        with open(os.path.join(cls.scratch, "prometheus.log"), "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    @classmethod
    def api(cls, path, **params):
        url = "http://127.0.0.1:%d/api/v1/%s?%s" % (cls.port, path, urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            return json.load(error)

    @classmethod
    def query_or_none(cls, expr):
        try:
            answer = cls.api("query", query=expr)
        except OSError:
            return None
        return answer["data"]["result"] if answer.get("status") == "success" else None

    def test_every_metric_a_panel_or_alert_queries_has_series(self):
        wanted = {}
        for where, expr in dashboard_expressions() + alert_expressions():
            for name in metric_names(expr):
                wanted.setdefault(name, []).append(where)
        self.assertGreater(len(wanted), 15)

        def missing():
            return {name: where for name, where in wanted.items()
                    if not self.query_or_none("count(%s)" % name)}

        # Gauges set on a timer (the lag, every commit tick) may need a scrape or two.
        if not fte_stack.eventually(lambda: not missing(), 30, 1):
            self.fail("metrics without any series, with the panels/alerts that query them: %s" % missing())

    def test_the_dead_letter_and_per_group_lag_series_exist(self):
        dead = self.query_or_none('fte_consumer_records_total{job="channel-normalizer",outcome="dead_lettered"}')
        self.assertTrue(dead, "no dead_lettered series from the normalizer")
        groups = lambda: {s["metric"]["group"] for s in self.query_or_none("fte_consumer_lag_records") or []}
        expected = {self.suite.group(s) for s in ("channel-normalizer", "agent-worker", "escalation")}
        self.assertTrue(fte_stack.eventually(lambda: groups() >= expected, 30, 1), groups())
        # Drained (setUpClass waited for every group's commits): no lag left,
        # so the gauge counts from the same offsets the broker holds.
        lag = lambda: {s["metric"]["group"]: float(s["value"][1])
                       for s in self.query_or_none("sum by (group) (fte_consumer_lag_records)") or []}
        self.assertTrue(fte_stack.eventually(lambda: lag() and not any(lag().values()), 30, 1), lag())

    def test_every_panel_expression_is_valid_promql(self):
        for title, expr in dashboard_expressions():
            concrete = expr.replace("$__rate_interval", "1m").replace("$__range", "5m")
            answer = self.api("query", query=concrete)
            self.assertEqual(answer.get("status"), "success", "%s: %s: %s" % (title, concrete, answer))

    def test_rules_load_and_the_dead_letter_alert_fires(self):
        def healthy_groups():
            groups = self.api("rules")["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            evaluated = all(rule.get("health") == "ok" for rule in rules)
            return rules if evaluated and len(rules) == len(alert_expressions()) else None
        rules = fte_stack.eventually(healthy_groups, 30, 1)
        self.assertTrue(rules, self.api("rules"))
        firing = lambda: [a for a in self.api("alerts")["data"]["alerts"]
                          if a["labels"]["alertname"] == "FteDeadLettered" and a["state"] == "firing"]
        alerts = fte_stack.eventually(firing, 30, 1)
        self.assertTrue(alerts, self.api("alerts"))
        self.assertEqual(alerts[0]["labels"]["topic"], self.suite.topics["webform_inbound"])


if __name__ == "__main__":
    unittest.main()
