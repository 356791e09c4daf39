"""The chart tier: deploy/helm/fte rendered by a real helm and checked.

Run by tests/chart/run.sh (ctest label `chart`), which hands over FTE_HELM
and runs this module with a venv holding kubernetes-validate, jsonschema and
PyYAML. Every check renders the chart with `helm template`; nothing needs a
cluster.
"""
import copy
import json
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

SOURCE_DIR = Path(os.environ.get("FTE_SOURCE_DIR") or Path(__file__).resolve().parents[2])
CHART = SOURCE_DIR / "deploy/helm/fte"
PRODUCTION_VALUES = CHART / "values-production.example.yaml"
# The repository refers to the shared folder beside it (../shared).
KEDA_SCHEMAS = SOURCE_DIR.parent / "shared/schemas/keda"
HELM = os.environ.get("FTE_HELM", "")

# The chart's floor (Chart.yaml kubeVersion: the preStop `sleep` action is on
# by default from 1.30) and the release where that action became stable.
KUBERNETES_VERSIONS = ("1.30.0", "1.34.0")

# PLAN10 contracts: the consuming services, their groups and input topics.
CONSUMERS = {
    "channel-normalizer": ("fte.channel-normalizer",
                           ["fte.channels.webform.inbound", "fte.channels.whatsapp.inbound",
                            "fte.channels.email.inbound"]),
    "agent-worker": ("fte.agent-worker", ["fte.tickets.incoming"]),
    "escalation": ("fte.escalation", ["fte.escalations"]),
}
SERVICES = ["webhook-gateway", *CONSUMERS]
ADMIN_PORTS = {"webhook-gateway": 9100, "channel-normalizer": 9101, "agent-worker": 9102, "escalation": 9103}

# Values that reach the paths the defaults do not: KEDA off (the HPA
# fallback), static membership (a StatefulSet), an existing Secret with a
# Google key, SASL without TLS, the Ingress.
VARIANT_VALUES = {
    "kafka": {"bootstrap": "kafka:9092", "topicPrefix": "tenant-a.",
              "sasl": {"enabled": True, "mechanism": "PLAIN", "secretName": "kafka-login"}},
    "secrets": {"existingSecret": "fte-prod", "googleServiceAccountInExistingSecret": True},
    "keda": {"enabled": False},
    "agentWorker": {"staticMembership": True},
    "webhookGateway": {"ingress": {"enabled": True, "className": "nginx",
                                   "hosts": [{"host": "fte.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]}]}},
}


def helm(*args, check=True):
    if not HELM or not os.access(HELM, os.X_OK):
        raise AssertionError(f"no helm binary (FTE_HELM={HELM!r}); tests/chart/install-tools.sh provides it")
    result = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return result


class Values:
    """A values file written for one render."""

    def __init__(self, values):
        self.file = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(values, self.file)
        self.file.close()

    def __enter__(self):
        return self.file.name

    def __exit__(self, *_):
        os.unlink(self.file.name)


def template_args(values_files=(), sets=()):
    args = ["template", "fte", str(CHART), "--namespace", "fte", "--kube-version", KUBERNETES_VERSIONS[0]]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return args


def render(values_files=(), sets=()):
    out = helm(*template_args(values_files, sets)).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def render_variants():
    """{name: manifests} for the default, the production example and the variants."""
    with Values(VARIANT_VALUES) as variants:
        return {"default": render(), "production": render([PRODUCTION_VALUES]), "variants": render([variants])}


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs):
    """{service: workload} for the Deployments and StatefulSets."""
    out = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            out[d["metadata"]["labels"]["app.kubernetes.io/component"]] = d
    return out


def effective_env(docs, workload):
    """The container's environment: its ConfigMap (envFrom) and env entries."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    config_maps = by_kind(docs, "ConfigMap")
    env = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


class LintTest(unittest.TestCase):
    def test_lint_default_values(self):
        helm("lint", "--strict", str(CHART))

    def test_lint_production_values(self):
        helm("lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES))

    def test_lint_variant_values(self):
        with Values(VARIANT_VALUES) as variants:
            helm("lint", "--strict", str(CHART), "-f", variants)


class RenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rendered = render_variants()

    def test_four_services_from_one_image_chosen_by_command(self):
        app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
        for name, docs in self.rendered.items():
            found = workloads(docs)
            self.assertEqual(sorted(found), sorted(SERVICES), name)
            for service, w in found.items():
                c = w["spec"]["template"]["spec"]["containers"][0]
                self.assertEqual(c["command"], [f"/usr/local/bin/{service}"])
                if name == "default":
                    self.assertEqual(c["image"], f"ghcr.io/fte/fte:{app_version}")

    def test_app_version_is_the_projects(self):
        # image.tag defaults to appVersion: the chart deploys the release it ships with.
        project = re.search(r"project\(fte VERSION ([0-9.]+)", (SOURCE_DIR / "CMakeLists.txt").read_text())
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertEqual(chart["appVersion"], project.group(1))

    def test_probes_on_the_admin_port(self):
        for name, docs in self.rendered.items():
            for service, w in workloads(docs).items():
                c = w["spec"]["template"]["spec"]["containers"][0]
                admin = [p for p in c["ports"] if p["name"] == "admin"]
                self.assertEqual(admin[0]["containerPort"], ADMIN_PORTS[service])
                self.assertEqual(effective_env(docs, w)["FTE_ADMIN_ADDR"], f"0.0.0.0:{ADMIN_PORTS[service]}")
                self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "admin"})
                self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "admin"})

    def test_restricted_security_context_and_writable_tmp(self):
        for name, docs in self.rendered.items():
            pods = [w["spec"]["template"]["spec"] for w in workloads(docs).values()]
            pods += [j["spec"]["template"]["spec"] for j in by_kind(docs, "Job").values()]
            for pod in pods:
                self.assertTrue(pod["securityContext"]["runAsNonRoot"])
                self.assertEqual(pod["securityContext"]["runAsUser"], 10001)
                self.assertEqual(pod["securityContext"]["seccompProfile"], {"type": "RuntimeDefault"})
                self.assertFalse(pod["automountServiceAccountToken"])
                for c in pod["containers"] + pod.get("initContainers", []):
                    sc = c["securityContext"]
                    self.assertFalse(sc["allowPrivilegeEscalation"])
                    self.assertTrue(sc["readOnlyRootFilesystem"])
                    self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
                    self.assertIn({"name": "tmp", "mountPath": "/tmp"}, c["volumeMounts"])
                self.assertIn("emptyDir", [v for v in pod["volumes"] if v["name"] == "tmp"][0])

    def test_grace_period_covers_the_pre_stop_sleep_and_the_drain(self):
        for drain_ms in (None, 60000, 1500):
            sets = [f"config.FTE_SHUTDOWN_TIMEOUT_MS={drain_ms}"] if drain_ms else []
            docs = render(sets=sets)
            for service, w in workloads(docs).items():
                pod = w["spec"]["template"]["spec"]
                sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
                drain_s = int(effective_env(docs, w).get("FTE_SHUTDOWN_TIMEOUT_MS", 25000)) / 1000
                self.assertGreater(sleep, 0)
                self.assertGreater(pod["terminationGracePeriodSeconds"], sleep + drain_s, service)

    def test_pod_name_only_for_stable_pod_names(self):
        for name, docs in self.rendered.items():
            for service, w in workloads(docs).items():
                env = effective_env(docs, w)
                if w["kind"] == "Deployment":
                    self.assertNotIn("FTE_POD_NAME", env, f"{name}/{service}")
                else:
                    self.assertEqual(env["FTE_POD_NAME"], {"fieldRef": {"fieldPath": "metadata.name"}})
        self.assertEqual(workloads(self.rendered["variants"])["agent-worker"]["kind"], "StatefulSet")

    def test_services_pdbs_and_ingress(self):
        for name, docs in self.rendered.items():
            ports = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s["spec"]["ports"][0]["port"]
                     for s in by_kind(docs, "Service").values() if s["spec"].get("clusterIP") != "None"}
            self.assertEqual(ports, {"webhook-gateway": 8080, "escalation": 8083}, name)
            self.assertEqual(len(by_kind(docs, "PodDisruptionBudget")), 4, name)
        ingress = list(by_kind(self.rendered["variants"], "Ingress").values())
        self.assertEqual(len(ingress), 1)
        self.assertEqual(ingress[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
                         "fte-webhook-gateway")
        self.assertFalse(by_kind(self.rendered["default"], "Ingress"))

    def test_hook_job_migrates_then_creates_production_topics(self):
        for name, docs in self.rendered.items():
            jobs = by_kind(docs, "Job")
            self.assertEqual(len(jobs), 1, name)
            job = next(iter(jobs.values()))
            self.assertEqual(job["metadata"]["annotations"]["helm.sh/hook"], "pre-install,pre-upgrade")
            pod = job["spec"]["template"]["spec"]
            self.assertEqual([c["command"] for c in pod["initContainers"]], [["/usr/local/bin/fte", "migrate"]])
            self.assertEqual([c["command"] for c in pod["containers"]], [["/usr/local/bin/fte", "topics", "create"]])
            env = {e["name"]: e.get("value", e.get("valueFrom")) for e in pod["containers"][0]["env"]}
            self.assertEqual((env["FTE_TOPIC_PARTITIONS"], env["FTE_TOPIC_REPLICATION_FACTOR"], env["FTE_TOPIC_MIN_ISR"]),
                             ("12", "3", "2"))
            secret = env["FTE_DATABASE_URL"]["secretKeyRef"]["name"]
            existing = {"variants": "fte-prod", "production": "fte-secrets"}.get(name)
            if existing:
                self.assertEqual(secret, existing)
            else:
                # A hook of its own: the release's Secret does not exist yet when the hook runs.
                hook_secret = by_kind(docs, "Secret")[secret]
                self.assertIn("pre-install", hook_secret["metadata"]["annotations"]["helm.sh/hook"])

    def test_existing_secret_replaces_the_charts_secret(self):
        docs = self.rendered["variants"]
        self.assertFalse(by_kind(docs, "Secret"))
        w = workloads(docs)
        self.assertEqual(effective_env(docs, w["agent-worker"])["FTE_DATABASE_URL"]["secretKeyRef"]["name"], "fte-prod")
        self.assertEqual(effective_env(docs, w["agent-worker"])["FTE_GOOGLE_SERVICE_ACCOUNT_FILE"],
                         "/var/run/secrets/fte/google/service-account.json")
        # Each service gets only the secrets it reads.
        self.assertNotIn("FTE_DATABASE_URL", effective_env(docs, w["webhook-gateway"]))
        self.assertNotIn("FTE_TWILIO_AUTH_TOKEN", effective_env(docs, w["escalation"]))

    def test_the_language_model_is_off_and_only_the_agent_worker_gets_its_key(self):
        for name, docs in self.rendered.items():
            found = workloads(docs)
            # The string "off": YAML 1.1 reads a bare off as false, which the
            # agent-worker would refuse (FTE_LLM must be off or openai).
            self.assertEqual(effective_env(docs, found["agent-worker"])["FTE_LLM"], "off", name)
            with_key = sorted(s for s, w in found.items() if "FTE_LLM_API_KEY" in effective_env(docs, w))
            self.assertEqual(with_key, ["agent-worker"], name)


class KubernetesTest(unittest.TestCase):
    """Every rendered built-in manifest against the Kubernetes schemas (strict: no unknown field)."""

    def test_manifests_validate(self):
        failures = []
        count = 0
        for name, docs in render_variants().items():
            for doc in docs:
                if doc["apiVersion"].startswith("keda.sh/"):
                    continue
                for version in KUBERNETES_VERSIONS:
                    count += 1
                    try:
                        kubernetes_validate.validate(doc, version, strict=True)
                    except kubernetes_validate.ValidationError as e:
                        failures.append(f"{name} {doc['kind']}/{doc['metadata']['name']} on {version}: {e.message} at {list(e.path)}")
        self.assertFalse(failures, "\n".join(failures))
        self.assertGreater(count, 50)


def keda_schema(kind_file):
    crd = yaml.safe_load((KEDA_SCHEMAS / kind_file).read_text())
    versions = {v["name"]: v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"]}
    return versions["v1alpha1"]


def unknown_fields(value, schema, path=""):
    """Fields the API server would prune (the CRD schemas allow them, silently)."""
    found = []
    if isinstance(value, dict) and schema.get("type") == "object":
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is not None and not extra and not schema.get("x-kubernetes-preserve-unknown-fields"):
            for key in value:
                if key not in props and not (path == "" and key in ("apiVersion", "kind", "metadata")):
                    found.append(f"{path}.{key}")
        for key, v in value.items():
            sub = (props or {}).get(key) or (extra if isinstance(extra, dict) else None)
            if sub:
                found += unknown_fields(v, sub, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            found += unknown_fields(v, schema["items"], f"{path}[{i}]")
    return found


class KedaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not KEDA_SCHEMAS.is_dir():
            raise AssertionError(f"no KEDA CRDs at {KEDA_SCHEMAS} (the repository expects ../shared beside it)")
        cls.schemas = {"ScaledObject": keda_schema("keda.sh_scaledobjects.yaml"),
                       "TriggerAuthentication": keda_schema("keda.sh_triggerauthentications.yaml")}
        cls.rendered = render_variants()

    def test_keda_objects_validate_against_the_crds(self):
        count = 0
        for name, docs in self.rendered.items():
            for doc in docs:
                if doc["kind"] in self.schemas:
                    count += 1
                    schema = self.schemas[doc["kind"]]
                    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
                    self.assertFalse(errors, f"{name} {doc['kind']}/{doc['metadata']['name']}: "
                                     + "; ".join(f"{e.message} at {list(e.path)}" for e in errors))
                    self.assertFalse(unknown_fields(doc, schema), f"{name} {doc['kind']}: unknown fields")
        self.assertGreaterEqual(count, 7)  # 3 default + 3 production + its TriggerAuthentication

    def test_a_scaled_object_per_consumer_on_its_group_and_topics(self):
        for name in ("default", "production"):
            docs = self.rendered[name]
            scaled = by_kind(docs, "ScaledObject")
            targets = {d["metadata"]["name"]: d["kind"] for d in docs if d["kind"] in ("Deployment", "StatefulSet")}
            self.assertEqual(sorted(scaled), sorted(f"fte-{s}" for s in CONSUMERS), name)
            self.assertFalse(by_kind(docs, "HorizontalPodAutoscaler").keys() & scaled.keys())
            for service, (group, topics) in CONSUMERS.items():
                spec = scaled[f"fte-{service}"]["spec"]
                self.assertEqual(targets[spec["scaleTargetRef"]["name"]], spec["scaleTargetRef"]["kind"])
                self.assertEqual((spec["minReplicaCount"], spec["maxReplicaCount"]), (2, 12))
                self.assertIn("cooldownPeriod", spec)
                self.assertEqual(sorted(t["metadata"]["topic"] for t in spec["triggers"]), sorted(topics))
                for t in spec["triggers"]:
                    m = t["metadata"]
                    self.assertEqual(t["type"], "kafka")
                    self.assertEqual(m["consumerGroup"], group)
                    self.assertEqual(m["lagThreshold"], "100")
                    # A never-committed partition counts 0 (ADR 0016).
                    self.assertEqual((m["offsetResetPolicy"], m["scaleToZeroOnInvalidOffset"]), ("latest", "true"))
                    self.assertIn("activationLagThreshold", m)
                    if name == "production":
                        self.assertEqual((m["sasl"], m["tls"]), ("scram_sha512", "enable"))
                        self.assertEqual(t["authenticationRef"]["name"], "fte-kafka")
                    else:
                        self.assertNotIn("authenticationRef", t)
        auth = by_kind(self.rendered["production"], "TriggerAuthentication")["fte-kafka"]
        self.assertEqual(sorted(r["parameter"] for r in auth["spec"]["secretTargetRef"]), ["ca", "password", "username"])
        self.assertFalse(by_kind(self.rendered["default"], "TriggerAuthentication"))

    def test_static_membership_is_scaled_as_a_stateful_set(self):
        docs = render(sets=["escalation.staticMembership=true"])
        scaled = by_kind(docs, "ScaledObject")["fte-escalation"]
        self.assertEqual(scaled["spec"]["scaleTargetRef"], {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                            "name": "fte-escalation"})
        self.assertIn("fte-escalation", by_kind(docs, "StatefulSet"))
        self.assertNotIn("fte-escalation", by_kind(docs, "Deployment"))
        for doc in docs:
            if doc["kind"] == "ScaledObject":
                jsonschema.validate(doc, self.schemas["ScaledObject"])
            else:
                kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=True)

    def test_hpa_fallback_when_keda_is_off(self):
        docs = self.rendered["variants"]
        self.assertFalse(by_kind(docs, "ScaledObject"))
        hpas = by_kind(docs, "HorizontalPodAutoscaler")
        self.assertEqual(sorted(hpas), sorted(f"fte-{s}" for s in SERVICES))
        self.assertEqual(hpas["fte-agent-worker"]["spec"]["scaleTargetRef"]["kind"], "StatefulSet")
        self.assertEqual(hpas["fte-agent-worker"]["spec"]["metrics"][0]["resource"]["name"], "cpu")
        # The topic prefix reaches KEDA's topics when it is on.
        docs = render(sets=["kafka.topicPrefix=tenant-a."])
        topics = [t["metadata"]["topic"] for s in by_kind(docs, "ScaledObject").values() for t in s["spec"]["triggers"]]
        self.assertTrue(all(t.startswith("tenant-a.fte.") for t in topics), topics)


class ValuesSchemaTest(unittest.TestCase):
    """Bad values fail `helm template` (and so `helm install`) with a message."""

    def assert_refused(self, sets, message):
        result = helm(*template_args((), sets), check=False)
        self.assertNotEqual(result.returncode, 0, f"{sets} rendered")
        self.assertIn(message, result.stderr)

    def test_negative_replica_count(self):
        self.assert_refused(["agentWorker.replicaCount=-1"], "/agentWorker/replicaCount")

    def test_unknown_top_level_key(self):
        self.assert_refused(["replicas=3"], "additional properties 'replicas' not allowed")

    def test_unknown_service_key(self):
        self.assert_refused(["escalation.replica=3"], "additional properties 'replica' not allowed")

    def test_misspelt_setting(self):
        self.assert_refused(["config.FTE_TOPIC_PARTITION=12"], "FTE_TOPIC_PARTITION")

    def test_setting_the_chart_derives(self):
        # The bootstrap and groups are chart keys (KEDA needs them too), not config.
        self.assert_refused(["config.FTE_KAFKA_BOOTSTRAP=x:9092"], "FTE_KAFKA_BOOTSTRAP")
        self.assert_refused(["agentWorker.config.FTE_CONSUMER_GROUP=x"], "FTE_CONSUMER_GROUP")

    def test_wrong_types(self):
        self.assert_refused(["config.FTE_TOPIC_PARTITIONS=twelve"], "/config/FTE_TOPIC_PARTITIONS")
        self.assert_refused(["config.FTE_LOG_LEVEL=loud"], "/config/FTE_LOG_LEVEL")
        self.assert_refused(["kafka.sasl.mechanism=GSSAPI"], "/kafka/sasl/mechanism")

    def test_more_replicas_than_partitions(self):
        self.assert_refused(["keda.maxReplicaCount=24"], "above FTE_TOPIC_PARTITIONS")

    def test_sasl_without_its_secret(self):
        self.assert_refused(["kafka.sasl.enabled=true"], "kafka.sasl.secretName is required")

    def test_good_values_still_render(self):
        render(sets=["agentWorker.replicaCount=0", "config.FTE_TOPIC_PARTITIONS=24", "keda.maxReplicaCount=24"])


# Read by the services through the Environment (libs/common/config): the
# call with the name as its first argument, possibly on the next line.
ENV_CALL = re.compile(r'\.(?:get|get_or|get_int|get_millis|get_bool|get_double|require)\(\s*"(FTE_[A-Z0-9_]+)"')
# Names held in a constant first (token_source.cpp's kVariable).
ENV_CONSTANT = re.compile(r'constexpr const char\*\s+\w+\s*=\s*"(FTE_[A-Z0-9_]+)"')


def names_the_services_read():
    names = set()
    roots = [SOURCE_DIR / "libs", SOURCE_DIR / "services"]
    for root in roots:
        for path in root.rglob("*"):
            if path.suffix not in (".cpp", ".hpp", ".h"):
                continue
            parts = set(path.relative_to(SOURCE_DIR).parts)
            # Tests set their own variables; the fte CLI is an operator's
            # tool, not a service (its Job reads the same library names).
            if parts & {"tests", "test", "fuzz", "fte-cli"}:
                continue
            text = path.read_text(errors="replace")
            names.update(ENV_CALL.findall(text))
            names.update(ENV_CONSTANT.findall(text))
    return names


def readme_configuration():
    readme = (SOURCE_DIR / "README.md").read_text()
    match = re.search(r"^## Configuration\n(.*?)(?=^## )", readme, re.S | re.M)
    if not match:
        raise AssertionError("README.md has no '## Configuration' section")
    return match.group(1)


# Settings the chart derives from keys of its own, and where they come from.
DERIVED = {
    "FTE_KAFKA_BOOTSTRAP": "kafka.bootstrap",
    "FTE_TOPIC_PREFIX": "kafka.topicPrefix",
    "FTE_CONSUMER_GROUP": "<service>.consumerGroup",
    "FTE_ADMIN_ADDR": "<service>.adminPort",
    "FTE_HTTP_ADDR": "<service>.httpPort",
    "FTE_POD_NAME": "<service>.staticMembership (the pod name)",
    "FTE_DATABASE_URL": "secrets.databaseUrl",
    "FTE_TWILIO_AUTH_TOKEN": "secrets.twilioAuthToken",
    "FTE_TWILIO_AUTH_TOKEN_PREVIOUS": "secrets.twilioAuthTokenPrevious",
    "FTE_GMAIL_CLIENT_SECRET": "secrets.gmailClientSecret",
    "FTE_GMAIL_REFRESH_TOKEN": "secrets.gmailRefreshToken",
    "FTE_GOOGLE_SERVICE_ACCOUNT_FILE": "secrets.googleServiceAccountJson (mounted file)",
    "FTE_EMBEDDINGS_API_KEY": "secrets.embeddingsApiKey",
    "FTE_LLM_API_KEY": "secrets.llmApiKey",
    "FTE_OIDC_CLIENT_SECRET": "secrets.oidcClientSecret",
}


def sample_value(schema):
    types = schema.get("type") or ["string"]
    if "enum" in schema:
        return [v for v in schema["enum"] if v is not None][-1]
    if "boolean" in types:
        return False
    if "number" in types:
        return 0.625
    if "integer" in types:
        return 604800001  # past 2^31 would still print without an exponent
    return "sample-value"


class SettingsTest(unittest.TestCase):
    """Every FTE_* variable the services read is documented and settable."""

    @classmethod
    def setUpClass(cls):
        cls.read = names_the_services_read()
        cls.schema = json.loads((CHART / "values.schema.json").read_text())
        cls.config_properties = cls.schema["$defs"]["config"]["properties"]

    def test_the_grep_finds_the_settings(self):
        # A regex that stopped matching would make the next tests vacuous.
        self.assertGreater(len(self.read), 50, sorted(self.read))
        for known in ("FTE_KAFKA_BOOTSTRAP", "FTE_SHUTDOWN_TIMEOUT_MS", "FTE_GOOGLE_SERVICE_ACCOUNT_FILE", "FTE_POD_NAME"):
            self.assertIn(known, self.read)

    def test_documented_in_the_readme(self):
        section = readme_configuration()
        missing = sorted(n for n in self.read if f"`{n}`" not in section)
        self.assertFalse(missing, "not in README 'Configuration': " + ", ".join(missing))
        # librdkafka properties pass through by prefix, documented as such.
        self.assertIn("`FTE_RDKAFKA_<NAME>`", section)
        self.assertIn("passed through", section)

    def test_every_setting_has_a_values_key(self):
        without = sorted(n for n in self.read if n not in self.config_properties and n not in DERIVED)
        self.assertFalse(without, "no values key for: " + ", ".join(without))
        stale = sorted(n for n in self.config_properties if n not in self.read)
        self.assertFalse(stale, "values.schema.json names settings no service reads: " + ", ".join(stale))
        self.assertFalse(set(self.config_properties) & set(DERIVED), "a derived setting is also a config key")

    def test_every_setting_reaches_a_container(self):
        values = {
            "config": {n: sample_value(s) for n, s in self.config_properties.items()},
            "kafka": {"bootstrap": "broker:9092", "topicPrefix": "p.", "rdkafka": {"linger.ms": 3, "client_rack": "a"}},
            "secrets": {"databaseUrl": "postgresql://x@db/fte", "twilioAuthToken": "t", "twilioAuthTokenPrevious": "t0",
                        "gmailClientSecret": "s", "gmailRefreshToken": "r", "googleServiceAccountJson": "{}",
                        "embeddingsApiKey": "k", "llmApiKey": "k", "oidcClientSecret": "c"},
            "agentWorker": {"staticMembership": True},
        }
        values["config"]["FTE_SHUTDOWN_TIMEOUT_MS"] = 20000
        values["config"]["FTE_TOPIC_PARTITIONS"] = 12
        for n in ("FTE_TOPIC_REPLICATION_FACTOR", "FTE_TOPIC_MIN_ISR"):
            values["config"][n] = 2
        with Values(values) as f:
            docs = render([f])
        seen = {}
        for w in workloads(docs).values():
            for name, value in effective_env(docs, w).items():
                seen.setdefault(name, value)
        unreached = sorted(n for n in self.read if n not in seen)
        self.assertFalse(unreached, "set in values but in no container: " + ", ".join(unreached))
        for name, value in values["config"].items():
            expected = str(value).lower() if isinstance(value, bool) else str(value)
            self.assertEqual(seen[name], expected, name)
        self.assertEqual(seen["FTE_RDKAFKA_LINGER_MS"], "3")
        self.assertEqual(seen["FTE_RDKAFKA_CLIENT__RACK"], "a")
        self.assertEqual(seen["FTE_KAFKA_BOOTSTRAP"], "broker:9092")
        self.assertEqual(seen["FTE_TOPIC_PREFIX"], "p.")


if __name__ == "__main__":
    unittest.main()
