"""The container image (docker/Dockerfile, ADR 0015) built and run here.

`deploy/local/fte-local image` builds the runtime image from the binaries
ctest's build tree already has (target runtime-prebuilt: no compiling in the
container), under a tag of this run's own. The four services then run as
containers of that image with host networking against the local stack, each
with this suite's topic prefix, database and consumer groups
(fte_stack.Suite with a container launcher), and in the restricted way the
chart runs them: read-only root filesystem, every capability dropped, no
privilege escalation. A web-form submission posted to the containerised
gateway must come back as a reply stored in PostgreSQL; `podman stop`
(SIGTERM) must end each with exit 0 within the grace period.

No podman, no base image, no build: the test fails with the reason (the
image verb installs podman and makes the base images; if it cannot, its
output is the failure message). It never skips.
"""

import json
import os
import re
import subprocess
import time
import unittest
import uuid

import fte_stack

REPO_ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FTE_LOCAL = os.path.join(REPO_ROOT, "deploy", "local", "fte-local")
BINARIES = ("webhook-gateway", "channel-normalizer", "agent-worker", "escalation", "fte")
USER = "10001:10001"
# Kubernetes' default terminationGracePeriodSeconds; the services' own
# drain bound (FTE_SHUTDOWN_TIMEOUT_MS, 25 s by default) is below it.
GRACE_SECONDS = 30
# What the image may weigh (about 163 MB, 78 of them the base, before the
# 72 MB embedding model of ADR 0018).
MAX_IMAGE_MB = 260
# Only what the suite sets goes into a container, not the test runner's
# environment (paths of the build tree, the stack's stop commands; the image
# has the embedding model at its default path).
HARNESS_ONLY = {"FTE_BUILD_DIR", "FTE_CLI", "FTE_LOCAL_DIR", "FTE_KAFKA_PIDFILE",
                "FTE_PG_STOP_COMMAND", "FTE_PG_START_COMMAND", "FTE_EMBEDDINGS_MODEL_PATH"}


def podman(*args, timeout=120, check=True):
    """podman with the clone's settings and storage (fte-local podman)."""
    result = subprocess.run([FTE_LOCAL, "podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError("podman %s failed (%s): %s%s" % (" ".join(args), result.returncode,
                                                               result.stdout, result.stderr))
    return result


def project_version():
    with open(os.path.join(REPO_ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        match = re.search(r"^project\(fte VERSION ([0-9.]+)", f.read(), re.M)
    return match.group(1)


def git_head():
    return subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


class ContainerProcess:
    """One service instance as `podman run` in the foreground: its exit
    status is the container's, its output goes to the log."""

    def __init__(self, image, instance, service, env, log_path):
        self.name = instance
        self.container = "fte-image-test-%s-%s" % (instance.replace("#", "-"), uuid.uuid4().hex[:8])
        self.log_path = log_path
        self.log = open(log_path, "ab")
        command = [FTE_LOCAL, "podman", "run", "--rm", "--name", self.container, "--network", "host",
                   "--read-only", "--read-only-tmpfs=false", "--cap-drop", "all",
                   "--security-opt", "no-new-privileges"]
        for key, value in sorted(env.items()):
            if key.startswith("FTE_") and key not in HARNESS_ONLY:
                command += ["--env", "%s=%s" % (key, value)]
        command += [image, "/usr/local/bin/" + service]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self):
        """The service's pid as the host sees it."""
        result = podman("inspect", "--format", "{{.State.Pid}}", self.container)
        return int(result.stdout.strip())

    def running(self):
        return self.process.poll() is None

    def terminate(self, timeout=GRACE_SECONDS):
        """`podman stop`: SIGTERM, SIGKILL after `timeout` seconds. Returns
        the container's exit status (137 when it had to be killed)."""
        if self.running():
            podman("stop", "--time", str(timeout), self.container, timeout=timeout + 60, check=False)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                podman("rm", "--force", self.container, check=False)
                self.process.wait(timeout=60)
        self.log.close()
        return self.process.returncode

    def kill_hard(self):
        podman("rm", "--force", self.container, check=False)
        self.process.wait(timeout=60)
        self.log.close()

    def log_tail(self, chars=3000):
        return fte_stack.file_tail(self.log_path, chars)


class ContainerImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # FTE_IMAGE_UNDER_TEST names an image built otherwise (`fte-local
        # image --full`, or a registry's) to run these checks on instead.
        cls.built_here = not os.environ.get("FTE_IMAGE_UNDER_TEST")
        if cls.built_here:
            cls.image = "localhost/fte-image-test:%s" % uuid.uuid4().hex[:8]
            cls.build_image()
        else:
            cls.image = os.environ["FTE_IMAGE_UNDER_TEST"]
        # Containers an earlier run left behind (a run killed by ctest's
        # timeout cannot stop them: they are in sessions of their own) would
        # keep consuming; they are this tier's, by name, in this clone's storage.
        leftovers = podman("ps", "--all", "--quiet", "--filter", "name=^fte-image-test-").stdout.split()
        if leftovers:
            podman("rm", "--force", *leftovers, check=False)
        cls.inspect = json.loads(podman("image", "inspect", cls.image).stdout)[0]

    @classmethod
    def build_image(cls):
        """`fte-local image` (it installs podman and makes the base images
        when they are missing), from ctest's build tree, without building."""
        started = time.monotonic()
        result = subprocess.run([FTE_LOCAL, "image"], capture_output=True, text=True, timeout=900,
                                env=dict(os.environ, FTE_SKIP_BUILD="1", FTE_IMAGE_NAME=cls.image,
                                         FTE_IMAGE_BUILD_DIR=fte_stack.build_dir()))
        print("fte-local image (%.0f s):\n%s" % (time.monotonic() - started, result.stdout[-3000:]), flush=True)
        if result.returncode != 0:
            raise fte_stack.StackUnavailable("deploy/local/fte-local image failed (%s):\n%s%s" % (
                result.returncode, result.stdout[-4000:], result.stderr[-4000:]))

    @classmethod
    def tearDownClass(cls):
        # Untags this run's name only; the layers stay cached for the next run.
        if cls.built_here:
            podman("rmi", cls.image, check=False)

    def test_labels_user_and_size(self):
        config = self.inspect["Config"]
        labels = config.get("Labels") or {}
        prefix = "org.opencontainers.image."
        for key in ("source", "revision", "version", "title", "licenses"):
            self.assertTrue(labels.get(prefix + key), "label %s%s missing: %s" % (prefix, key, labels))
        self.assertEqual(labels[prefix + "version"], project_version())
        self.assertIn(labels[prefix + "revision"], (git_head(), git_head() + "-dirty"))
        self.assertEqual(labels[prefix + "title"], "fte")
        self.assertEqual(config.get("User"), USER)
        self.assertFalse(config.get("Entrypoint"), "the image has no ENTRYPOINT: each Deployment names its binary")
        size_mb = self.inspect["Size"] / 1e6
        print("image %s: %.0f MB" % (self.image, size_mb), flush=True)
        self.assertLess(size_mb, MAX_IMAGE_MB)

    def test_every_binary_finds_its_libraries(self):
        """All five are in /usr/local/bin and the image has every library
        they link: the dynamic loader lists them without running them (no
        shell, no ldd in the way), and the CLI runs."""
        for binary in BINARIES:
            result = podman("run", "--rm", "--network", "none", "--entrypoint", "/lib64/ld-linux-x86-64.so.2",
                            self.image, "--list", "/usr/local/bin/" + binary, check=False)
            self.assertEqual(result.returncode, 0, "%s: %s%s" % (binary, result.stdout, result.stderr))
            self.assertNotIn("not found", result.stdout, binary)
        result = podman("run", "--rm", "--network", "none", self.image, "/usr/local/bin/fte", "--help", check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # With no command the image prints the CLI's help, not a shell.
        result = podman("run", "--rm", "--network", "none", self.image, check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("fte", result.stdout)

    def test_services_in_containers(self):
        def launcher(instance, service, env, log):
            return ContainerProcess(self.image, instance, service, env, log)

        suite = fte_stack.Suite(prefix="image", launcher=launcher)
        try:
            # The kernel's view of each service process: uid and gid 10001.
            for name, process in suite.processes.items():
                with open("/proc/%d/status" % process.pid, encoding="utf-8") as f:
                    status = f.read()
                self.assertRegex(status, r"\nUid:\t10001\t10001\t10001\t10001\n", name)
                self.assertRegex(status, r"\nGid:\t10001\t10001\t10001\t10001\n", name)

            answer = fte_stack.http_request(
                suite.gateway_port, "POST", "/webhooks/webform",
                json.dumps({"name": "Ada Lovelace", "email": "ada@example.com", "subject": "Password",
                            "message": "How do I reset my password? I forgot it."}),
                {"Content-Type": "application/json", "Idempotency-Key": "image-" + uuid.uuid4().hex})
            self.assertEqual(answer.status, 202, answer)
            correlation = (answer.json() or {}).get("correlation_id")
            self.assertTrue(correlation, answer)
            reply = fte_stack.eventually(lambda: suite.database.value(
                "SELECT body FROM messages WHERE correlation_id = :'c' AND direction = 'outbound'",
                c=correlation), 60, 0.3)
            self.assertTrue(reply, "no reply stored for %s within 60 s\n%s" % (correlation, suite.logs()))

            for name in reversed(fte_stack.SERVICES):
                started = time.monotonic()
                status = suite.stop(name, GRACE_SECONDS)
                took = time.monotonic() - started
                print("%s: exit %s %.1f s after podman stop" % (name, status, took), flush=True)
                self.assertEqual(status, 0, "%s exited %s after SIGTERM\n%s" % (
                    name, status, suite.processes[name].log_tail()))
                self.assertLess(took, GRACE_SECONDS, name)
        finally:
            suite.close()

    def test_build_stage_uses_fte_local_packages(self):
        """The Dockerfile's build stage installs a subset of fte-local's
        DEB_PACKAGES (the list a local build is proven with), never others."""
        with open(os.path.join(REPO_ROOT, "docker", "Dockerfile"), encoding="utf-8") as f:
            dockerfile = f.read()
        build_stage = dockerfile.split(" AS build\n", 1)[1].split("\nFROM ", 1)[0]
        install = re.search(r"apt-get install -y --no-install-recommends \\\n(.*?)\n(?!\s)", build_stage, re.S)
        self.assertTrue(install, "no apt-get install in the build stage")
        wanted = set(install.group(1).replace("\\", " ").split())
        with open(FTE_LOCAL, encoding="utf-8") as f:
            script = f.read()
        listed = re.search(r"^DEB_PACKAGES=\((.*?)^\)", script, re.S | re.M)
        self.assertTrue(listed, "no DEB_PACKAGES in fte-local")
        known = set(re.sub(r"#.*", "", listed.group(1)).split())
        self.assertTrue(wanted, "no package found in the build stage")
        self.assertEqual(wanted - known, set(), "build-stage packages not in fte-local's DEB_PACKAGES")


if __name__ == "__main__":
    unittest.main()
