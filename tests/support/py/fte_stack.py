"""The real stack for Python test suites, as tests/support gives it to the C++
ones (suite.cpp): each Suite has its own topics (a random FTE_TOPIC_PREFIX,
created with the `fte` CLI), its own migrated database, its own consumer
groups, and the services as real processes on free ports, all torn down at
the end.

Where things are comes from the environment ctest sets (tests/CMakeLists.txt,
fte_py_test) and deploy/local/fte-local exports: FTE_KAFKA_BOOTSTRAP,
FTE_DATABASE_URL, FTE_BUILD_DIR, FTE_CLI. A suite that cannot reach what it
needs raises StackUnavailable naming it: the test fails, it never skips.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import kafka_wire

SERVICES = ("webhook-gateway", "channel-normalizer", "agent-worker", "escalation")
PARTITIONS = 12
TOPICS = {  # TopicNames (libs/kafka/include/fte/kafka/topics.hpp), without the prefix
    "whatsapp_inbound": "fte.channels.whatsapp.inbound",
    "email_inbound": "fte.channels.email.inbound",
    "webform_inbound": "fte.channels.webform.inbound",
    "tickets_incoming": "fte.tickets.incoming",
    "escalations": "fte.escalations",
    "metrics_agent": "fte.metrics.agent",
    "desk_activity": "fte.desk.activity",
    "dlq": "fte.dlq",
}


class StackUnavailable(AssertionError):
    """What a test needs is not there (an AssertionError: the test fails)."""


def kafka_bootstrap():
    return os.environ.get("FTE_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def database_url():
    return os.environ.get("FTE_DATABASE_URL", "postgresql://fte@127.0.0.1:15432/fte")


def build_dir():
    path = os.environ.get("FTE_BUILD_DIR")
    if not path:
        raise StackUnavailable("FTE_BUILD_DIR is not set: run the Python suites through ctest "
                               "(deploy/local/fte-local test), which sets it")
    return path


def cli_path():
    path = os.environ.get("FTE_CLI") or os.path.join(build_dir(), "services", "fte-cli", "fte")
    if not os.access(path, os.X_OK):
        raise StackUnavailable("the fte CLI is not at %s: build first" % path)
    return path


def service_binary(service):
    path = os.path.join(build_dir(), "services", service, service)
    if not os.access(path, os.X_OK):
        raise StackUnavailable("%s is not at %s: build first" % (service, path))
    return path


def psql_path():
    for candidate in (os.environ.get("FTE_PSQL"), shutil.which("psql"), "/usr/lib/postgresql/15/bin/psql"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise StackUnavailable("psql not found (Debian package postgresql-client-15)")


def free_port():
    """A port below Linux's ephemeral range (32768-60999), for a service to
    listen on: a port bound to 0 and released is free only for the moment,
    and Kafka clients' outgoing connections take source ports from that range."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def unique_name(prefix):
    return "%s.%s" % (prefix, uuid.uuid4().hex[:8])


def eventually(condition, timeout, interval=0.05):
    """Polls `condition` until it returns something true or `timeout`
    seconds pass; returns its last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


class HttpAnswer:
    def __init__(self, status, body, headers):
        self.status = status  # 0 when the connection failed
        self.body = body
        self.headers = headers

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return "HTTP %s %s" % (self.status, self.body[:500])


def http_request(port, method, target, body=b"", headers=None, timeout=15.0, host="127.0.0.1"):
    """One request on a fresh connection to host:port."""
    import http.client

    if isinstance(body, str):
        body = body.encode("utf-8")
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, target, body=body or None, headers=dict(headers or {}))
        response = connection.getresponse()
        return HttpAnswer(response.status, response.read().decode("utf-8", "replace"),
                          {k.lower(): v for k, v in response.getheaders()})
    except (OSError, http.client.HTTPException):
        return HttpAnswer(0, "", {})
    finally:
        connection.close()


def with_database(url, name):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class Database:
    """SQL through psql (no PostgreSQL driver in Debian's python3 here).
    Values go in as psql variables (:'name'), never pasted into the SQL."""

    def __init__(self, url):
        self.url = url

    def rows(self, sql, **variables):
        command = [psql_path(), self.url, "-X", "-q", "-A", "-t", "-F", "\x1f", "-R", "\x1e",
                   "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            command += ["-v", "%s=%s" % (name, value)]
        result = subprocess.run(command, input=sql, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise AssertionError("psql failed (%s): %s\nSQL: %s" % (result.returncode, result.stderr.strip(), sql))
        out = result.stdout.rstrip("\n")
        return [row.split("\x1f") for row in out.split("\x1e") if row.strip("\n")] if out else []

    def value(self, sql, **variables):
        rows = self.rows(sql, **variables)
        return rows[0][0].strip("\n") if rows else None

    def count(self, sql, **variables):
        return int(self.value(sql, **variables) or 0)


class ScratchDatabase(Database):
    """A database for one suite, migrated with `fte migrate`, dropped afterwards."""

    def __init__(self, admin_url=None):
        admin_url = admin_url or database_url()
        self.admin = Database(admin_url)
        self.name = "fte_test_" + uuid.uuid4().hex[:8]
        try:
            self.admin.rows("SELECT format('CREATE DATABASE %I', :'name') \\gexec", name=self.name)
        except AssertionError as error:
            raise StackUnavailable("PostgreSQL at %s: %s (start the stack with deploy/local/fte-local up)" % (
                admin_url, error)) from None
        super().__init__(with_database(admin_url, self.name))
        result = subprocess.run([cli_path(), "migrate"], env=dict(os.environ, FTE_DATABASE_URL=self.url),
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise StackUnavailable("fte migrate on %s failed: %s%s" % (self.name, result.stdout, result.stderr))

    def drop(self):
        try:
            self.admin.rows("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', :'name') \\gexec", name=self.name)
        except AssertionError:
            pass  # a test that stopped PostgreSQL cannot clean up


class ScratchTopics:
    """The eight contract topics under a fresh prefix (`fte topics create`)."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.kafka = kafka_wire.Kafka(kafka_bootstrap())
        try:
            self.kafka.metadata([])
        except (OSError, kafka_wire.KafkaError) as error:
            raise StackUnavailable("Kafka at %s is not answering (%s); start the stack with deploy/local/fte-local up"
                                   % (kafka_bootstrap(), error)) from None
        result = subprocess.run([cli_path(), "topics", "create"], capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, FTE_TOPIC_PREFIX=prefix, FTE_KAFKA_BOOTSTRAP=kafka_bootstrap()))
        if result.returncode != 0:
            raise StackUnavailable("fte topics create (prefix %s) failed: %s%s" % (prefix, result.stdout, result.stderr))
        self.names = {key: prefix + name for key, name in TOPICS.items()}
        # Metadata reaches every listener asynchronously even on one broker.
        if not eventually(lambda: self._all_visible(), 15):
            raise StackUnavailable("topics %s* not visible within 15 s" % prefix)

    def _all_visible(self):
        meta = self.kafka.metadata(list(self.names.values()))["topics"]
        return all(meta.get(n, {}).get("error") == 0 and len(meta[n]["partitions"]) == PARTITIONS
                   for n in self.names.values())

    def __getitem__(self, key):
        return self.names[key]

    def delete(self):
        try:
            self.kafka.delete_topics(list(self.names.values()))
        except (OSError, kafka_wire.KafkaError):
            pass  # the broker may be what a robustness test stopped


def file_tail(path, chars=3000):
    """The last `chars` characters of a log file, for failure messages."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"


class ServiceProcess:
    def __init__(self, name, binary, env, log_path):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        # Its own session: a kill reaches the service, not the test runner.
        self.process = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    def kill_hard(self):
        if self.running():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def terminate(self, timeout=30):
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()
        return self.process.returncode

    def log_tail(self, chars=3000):
        return file_tail(self.log_path, chars)


class Suite:
    """Topics, database and the four services for one test class.

    `extra_env` goes to every service. `services` are started in order;
    `start`/`kill`/`stop` take `service` or `service#N` (another instance
    of the same service in the same group). `launcher(instance, service,
    env, log_path)` runs one instance and returns what ServiceProcess
    offers (running, pid, terminate, kill_hard, log_tail); by default a
    ServiceProcess of the build tree's binary (the image tier runs them in
    containers instead)."""

    def __init__(self, extra_env=None, services=SERVICES, prefix="e2e", launcher=None):
        self.prefix = unique_name(prefix) + "."
        self.launcher = launcher or (lambda instance, service, env, log: ServiceProcess(
            instance, service_binary(service), env, log))
        self.processes = {}
        self.starts = {}
        self.database = None
        self.topics = None
        try:
            self.topics = ScratchTopics(self.prefix)
            self.database = ScratchDatabase()
            self.gateway_port = free_port()
            self.escalation_port = free_port()
            self.admin_ports = {}
            self.env = dict(os.environ)
            self.env.update({
                "FTE_KAFKA_BOOTSTRAP": kafka_bootstrap(),
                "FTE_DATABASE_URL": self.database.url,
                "FTE_TOPIC_PREFIX": self.prefix,
                "FTE_LOG_LEVEL": "info",
                "FTE_COMMIT_INTERVAL_MS": "200",
                # A killed member's partitions move after this (the broker's minimum).
                "FTE_RDKAFKA_SESSION_TIMEOUT_MS": "6000",
                "FTE_RDKAFKA_HEARTBEAT_INTERVAL_MS": "1000",
            })
            self.env.update(extra_env or {})
            for service in services:
                self.start(service)
        except BaseException:
            self.close()
            raise

    def group(self, service):
        return self.prefix + "fte." + service

    def admin_port(self, instance):
        return self.admin_ports[instance]

    def start(self, instance, timeout=60):
        service = instance.split("#")[0]
        self.admin_ports.setdefault(instance, free_port())
        env = dict(self.env)
        env["FTE_ADMIN_ADDR"] = "127.0.0.1:%d" % self.admin_ports[instance]
        env["FTE_CONSUMER_GROUP"] = self.group(service)
        if service == "webhook-gateway":
            env["FTE_HTTP_ADDR"] = "127.0.0.1:%d" % self.gateway_port
        if service == "escalation":
            env["FTE_HTTP_ADDR"] = "127.0.0.1:%d" % self.escalation_port
        self.starts[instance] = self.starts.get(instance, 0) + 1
        log = os.path.join(tempfile.gettempdir(), "%s%s.%d.log" % (self.prefix, instance, self.starts[instance]))
        process = self.launcher(instance, service, env, log)
        self.processes[instance] = process
        ready = eventually(lambda: not process.running() or
                           http_request(self.admin_ports[instance], "GET", "/readyz", timeout=2).status == 200,
                           timeout, 0.1)
        if not ready or not process.running():
            raise StackUnavailable("%s not ready within %ss:\n%s" % (instance, timeout, process.log_tail()))

    def kill(self, instance):
        """SIGKILL."""
        self.processes[instance].kill_hard()

    def stop(self, instance, timeout=30):
        """SIGTERM and wait; returns the exit status."""
        return self.processes[instance].terminate(timeout)

    def pid(self, instance):
        return self.processes[instance].pid

    def wait_until_drained(self, timeout=60):
        """Every consumer group has committed to the end of its input
        topics, in pipeline order (no fixed sleep)."""
        deadline = time.monotonic() + timeout
        stages = [("channel-normalizer", ("webform_inbound", "whatsapp_inbound", "email_inbound")),
                  ("agent-worker", ("tickets_incoming",)), ("escalation", ("escalations",))]
        for service, topics in stages:
            if service not in {name.split("#")[0] for name in self.processes}:
                continue
            for topic in topics:
                left = deadline - time.monotonic()
                if left <= 0 or not eventually(lambda: self.topics.kafka.caught_up(self.group(service),
                                                                                     self.topics[topic]), left, 0.1):
                    return False
        return True

    def end_offsets(self, topic_key):
        return self.topics.kafka.end_offsets(self.topics[topic_key])

    def records_on(self, topic_key):
        return sum(self.end_offsets(topic_key).values())

    def metrics(self, instance):
        return http_request(self.admin_ports[instance], "GET", "/metrics").body

    def logs(self, chars=1500):
        return "".join("----- %s (%s)\n%s\n" % (name, p.log_path, p.log_tail(chars))
                       for name, p in self.processes.items())

    def close(self):
        for service in reversed(SERVICES):
            for name, process in list(self.processes.items()):
                if name.split("#")[0] == service:
                    process.terminate(10)
        self.processes.clear()
        if self.topics:
            self.topics.delete()
        if self.database:
            self.database.drop()


def metric_value(metrics_text, name, labels=None):
    """The value of one Prometheus sample (labels as a dict, matched exactly
    on the names given), or None."""
    for line in metrics_text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in (labels or {}).items()):
            return float(match.group(4))
    return None
