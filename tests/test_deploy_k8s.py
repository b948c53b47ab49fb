"""deploy/k8s, checked offline: every manifest against the Kubernetes schemas
(kubernetes-validate --strict) and KEDA's ScaledObject against its vendored CRD schema;
the kustomize base and production overlay hang together (and render, where kubectl is
installed); and every setting has one name in the code, docker-compose.yml and the
manifests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy/k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays/production"
KUBERNETES_VERSION = "1.30"
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/config.yaml"))
APPS = [*SERVICES, "projections", "gateway"]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# Read by code but not deployment settings: the tests' RabbitMQ management API
# (engage_common.vhosts) and psycopg's implementation (the image sets it).
NOT_SETTINGS = {"RABBITMQ_MANAGEMENT_URL", "PSYCOPG_IMPL"}
# Read from a nameko config but not (yet) mapped from the environment in the services'
# config.yaml, so no deployment can set them: the SMTP login and TLS and Notify's URL
# (engage_common.notify). When a config.yaml maps one
# (`X: ${X:default}`), the tests in test_deploy_config.py ask for it everywhere.
KNOWN_UNMAPPED = {
    "SMTP_TLS",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "NOTIFY_BASE_URL",
}


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomization(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


BASE_DOCS = [
    d for p in sorted(BASE.glob("*.yaml")) if p.name != "kustomization.yaml" for d in documents(p)
]
SECRET = documents(K8S / "secret.example.yaml")[0]


def find(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in BASE_DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} {name} in deploy/k8s/base, found {len(found)}"
    return found[0]


def pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod(doc)
    return spec.get("initContainers", []) + spec["containers"]


# --- schemas ------------------------------------------------------------------------


def strict(schema: Any) -> Any:
    """A CRD's structural schema with unknown fields refused, as --strict does for the
    built-in kinds (the API server would silently drop them)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): strict(
        yaml.safe_load(
            (ROOT / "deploy/schemas/keda/scaledobjects.keda.sh-v1alpha1.yaml").read_text()
        )
    ),
}


def validate(doc: dict[str, Any]) -> None:
    crd = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
    if crd is not None:
        jsonschema.validate(doc, crd)
    else:  # raises SchemaNotFoundError for a kind it does not know: no silent pass
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def every_manifest() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        if (
            path.name == "kustomization.yaml"
            or path.parent == OVERLAY
            and path.name != "namespace.yaml"
        ):
            continue  # kustomizations are not objects; the overlay's patches are partial
        found += [
            (f"{path.relative_to(ROOT)}: {d['kind']} {d['metadata']['name']}", d)
            for d in documents(path)
        ]
    return found


@pytest.mark.parametrize(
    ("where", "doc"), every_manifest(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_manifest_validates_strictly(where: str, doc: dict[str, Any]) -> None:
    validate(doc)


def test_strict_validation_bites() -> None:
    deployment = yaml.safe_load(yaml.safe_dump(find("Deployment", "gateway")))
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    scaled = yaml.safe_load(yaml.safe_dump(find("ScaledObject", "surveys")))
    scaled["spec"]["maxReplicas"] = 3  # HPA's word, not KEDA's
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


# --- kustomize ----------------------------------------------------------------------


def test_the_base_lists_every_manifest_and_the_overlay_what_exists() -> None:
    base = kustomization(BASE)
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(base["resources"]) == sorted(files)
    overlay = kustomization(OVERLAY)
    for resource in overlay["resources"]:
        target = (OVERLAY / resource).resolve()
        assert target.is_file() or (target / "kustomization.yaml").is_file(), resource
    assert BASE.resolve() in [(OVERLAY / r).resolve() for r in overlay["resources"]]
    for patch in overlay["patches"]:
        (target,) = documents(OVERLAY / patch["path"])
        find(target["kind"], target["metadata"]["name"])  # patches something the base has
    assert overlay["namespace"] == "engage"


def test_the_overlay_sets_the_image_from_a_registry() -> None:
    images = {
        c["image"] for d in BASE_DOCS if d["kind"] in ("Deployment", "Job") for c in containers(d)
    }
    assert images == {"engage-app:0.1.0"}, "the base names one image, without a registry"
    (image,) = kustomization(OVERLAY)["images"]
    assert image["name"] == "engage-app"
    registry = image["newName"].split("/")[0]
    assert "." in registry or ":" in registry, "newName starts with a registry host"
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(image["newTag"]))


@pytest.mark.skipif(
    not shutil.which("kubectl"), reason="kubectl is not installed: not rendering the overlay"
)
def test_the_production_overlay_renders_and_validates() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d]
    for doc in rendered:
        validate(doc)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "engage", doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job"):
            for container in containers(doc):
                assert container["image"].startswith("registry.example.invalid/engage/engage-app:")
    kinds = sorted({d["kind"] for d in rendered})
    assert kinds == sorted(
        {
            "Namespace",
            "ConfigMap",
            "Service",
            "Deployment",
            "Job",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "ScaledObject",
            "Ingress",
            "NetworkPolicy",
        }
    )
    ingress = next(d for d in rendered if d["kind"] == "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]


# --- what each process gets ---------------------------------------------------------


@pytest.mark.parametrize("app", APPS)
def test_every_process_has_probes_resources_a_budget_and_runs_as_non_root(app: str) -> None:
    deployment = find("Deployment", app)
    (container,) = pod(deployment)["containers"]
    assert container["readinessProbe"] and container["livenessProbe"]
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    security = pod(deployment)["securityContext"]
    assert security["runAsNonRoot"] is True
    user = re.search(r"^USER\s+(\d+)", (ROOT / "deploy/Dockerfile").read_text(), re.M)
    assert user and security["runAsUser"] == int(user.group(1))
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    budget = find("PodDisruptionBudget", app)
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]


def queues_consumed(service: str) -> set[str]:
    """The queues a service's replicas share: its RPC queue (nameko's rpc-<name>) and the
    submissions queues it consumes (engage_common.messaging.submissions_queue)."""
    from nameko.rpc import RPC_QUEUE_TEMPLATE

    source = (ROOT / f"services/{service}/{service}/service.py").read_text()
    owners = re.findall(r"@consume(?:_batches)?\(submissions_queue\(\"(\w+)\"\)\)", source)
    from engage_common.messaging import submissions_queue

    return {RPC_QUEUE_TEMPLATE.format(service)} | {submissions_queue(o).name for o in owners}


@pytest.mark.parametrize("service", SERVICES)
def test_services_scale_on_the_depth_of_the_queues_they_consume(service: str) -> None:
    scaled = find("ScaledObject", service)["spec"]
    assert scaled["scaleTargetRef"]["name"] == service
    assert "replicas" not in find("Deployment", service)["spec"], "the autoscaler owns replicas"
    assert {t["metadata"]["queueName"] for t in scaled["triggers"]} == queues_consumed(service)
    env = {e["name"] for e in pod(find("Deployment", service))["containers"][0]["env"]}
    for trigger in scaled["triggers"]:
        assert trigger["type"] == "rabbitmq"
        assert trigger["metadata"]["hostFromEnv"] in env
    assert (
        scaled["minReplicaCount"] >= 2
        and find("PodDisruptionBudget", service)["spec"]["minAvailable"] == 1
    )


def test_the_gateway_scales_on_cpu() -> None:
    hpa = find("HorizontalPodAutoscaler", "gateway")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert hpa["minReplicas"] >= 2 and "replicas" not in find("Deployment", "gateway")["spec"]


def test_the_read_model_runs_twice_and_rolls_one_at_a_time() -> None:
    """Two replicas are safe (tests/test_several_instances.py), and a fixed count: the
    read model's load follows the services', which autoscale."""
    deployment = find("Deployment", "projections")["spec"]
    assert deployment["replicas"] == 2
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert not [
        d
        for d in BASE_DOCS
        if d["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
        and d["metadata"]["name"] == "projections"
    ]


def test_the_migration_job_migrates_every_database_before_rollout() -> None:
    job = find("Job", "engage-migrate")
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    steps = {c["name"]: c for c in containers(job)}
    assert set(steps) == {*SERVICES, "gateway"}
    for service in SERVICES:
        command = steps[service]["command"]
        assert command[:3] == ["python", "-m", "engage_common.migrate"]
        assert (ROOT / command[-1].removeprefix("/app/")).is_dir()
    assert steps["gateway"]["command"] == ["python", "-m", "gateway.cli", "migrate"]
    for name, step in steps.items():
        (database,) = [e for e in step["env"] if e["name"] == "DATABASE_URL"]
        assert database["valueFrom"]["secretKeyRef"]["key"] == f"{name}-database-url"
        assert set(step["resources"]) == {"requests", "limits"}
    for app in APPS:  # the serving pods no longer migrate
        assert "initContainers" not in pod(find("Deployment", app))


def test_only_the_gateway_is_reachable_and_only_through_tls() -> None:
    policies = [d for d in BASE_DOCS if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert deny and all(
        p["spec"]["policyTypes"] == ["Ingress"] and not p["spec"].get("ingress") for p in deny
    )
    # Prometheus may scrape every pod's metrics port, from the monitoring namespace only.
    (metrics,) = [p for p in policies if p["metadata"]["name"] == "metrics-from-monitoring"]
    assert [f["namespaceSelector"] for r in metrics["spec"]["ingress"] for f in r["from"]] == [
        {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    ]
    scraped = {
        int(d["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"])
        for d in BASE_DOCS
        if d["kind"] == "Deployment"
    }
    assert {p["port"] for r in metrics["spec"]["ingress"] for p in r["ports"]} == scraped
    allowed = [p for p in policies if p["spec"].get("ingress") and p is not metrics]
    assert [p["spec"]["podSelector"]["matchLabels"] for p in allowed] == [
        {"app.kubernetes.io/name": "gateway"}
    ]
    (container,) = pod(find("Deployment", "gateway"))["containers"]
    ports = {p["containerPort"] for p in container["ports"]}
    assert {p["port"] for rule in allowed[0]["spec"]["ingress"] for p in rule["ports"]} == ports
    services = [d for d in BASE_DOCS if d["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == ["gateway"]
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)
    ingress = find("Ingress", "gateway")["spec"]
    hosts = {r["host"] for r in ingress["rules"]}
    assert hosts and {h for t in ingress["tls"] for h in t["hosts"]} == hosts
    assert all(t["secretName"] for t in ingress["tls"])
    backends = [p["backend"]["service"] for r in ingress["rules"] for p in r["http"]["paths"]]
    service_ports = {p["name"] for p in find("Service", "gateway")["spec"]["ports"]}
    assert all(b["name"] == "gateway" and b["port"]["name"] in service_ports for b in backends)
    assert find("ConfigMap", "engage-config")["data"]["TRUST_PROXY"] == "1"


# --- one name for each setting -------------------------------------------------------

SOURCE_FILES = [
    p
    for p in ROOT.glob("*/**/*.py")
    if not {".venv", "tests", "node_modules", "bench"} & set(p.relative_to(ROOT).parts)
]
ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault|\benv\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']|os\.environ\[["']([A-Z][A-Z0-9_]+)["']\]"""
)
CONFIG_READ = re.compile(r"""\b(?:config|settings)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
CONFIG_REF = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::[^}]*)?\}")
CONFIG_FILES = [ROOT / "gateway/projections.yaml", *(ROOT / "services").glob("*/config.yaml")]


def read_from_environment() -> set[str]:
    names = set()
    for path in SOURCE_FILES:
        names |= {a or b for a, b in ENV_READ.findall(path.read_text())}
    for path in CONFIG_FILES:  # the values, not the comments
        names |= set(CONFIG_REF.findall(yaml.safe_dump(yaml.safe_load(path.read_text()))))
    return names


def test_the_code_reads_what_we_think_it_reads() -> None:
    names = read_from_environment()
    assert {
        "AMQP_URI",
        "DATABASE_URL",
        "SECRET_KEY",
        "ENGAGE_ICS_CONFIG",
        "HEALTHCHECK_TIMEOUT",
    } <= names
    assert "OUTCOMES_DIGEST_INTERVAL" in names


def deployed_names() -> dict[str, set[str]]:
    """Every environment variable name the deployment files set, by where."""
    found: dict[str, set[str]] = {}
    for app in APPS:
        found[f"compose {app}"] = set(COMPOSE["services"][app]["environment"])
    for doc in BASE_DOCS:
        if doc["kind"] in ("Deployment", "Job"):
            for container in containers(doc):
                found[f"k8s {doc['metadata']['name']}/{container['name']}"] = {
                    e["name"] for e in container["env"]
                }
    found["k8s ConfigMap engage-config"] = set(find("ConfigMap", "engage-config")["data"])
    overlay_config = documents(OVERLAY / "configmap.yaml")[0]
    found["k8s overlay ConfigMap"] = set(overlay_config["data"])
    return found


def test_every_setting_deployed_is_one_the_code_reads_by_that_name() -> None:
    read = read_from_environment()
    for where, names in deployed_names().items():
        assert names <= read, f"{where} sets {sorted(names - read)}, which no code reads"


def test_every_setting_the_code_reads_can_be_set_on_kubernetes() -> None:
    config = set(find("ConfigMap", "engage-config")["data"])
    from_secret = {
        e["name"]
        for doc in BASE_DOCS
        if doc["kind"] in ("Deployment", "Job")
        for c in containers(doc)
        for e in c["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert not config & from_secret, "a setting is either secret or not"
    missing = read_from_environment() - NOT_SETTINGS - config - from_secret
    assert not missing, f"no ConfigMap key or Secret reference for {sorted(missing)}"
    keys = set(SECRET["stringData"])
    for doc in BASE_DOCS:
        if doc["kind"] in ("Deployment", "Job"):
            for c in containers(doc):
                for e in c["env"]:
                    ref = e.get("valueFrom", {})
                    if "secretKeyRef" in ref:
                        assert ref["secretKeyRef"]["key"] in keys, e
                    else:  # a ConfigMap key is the variable's own name
                        assert ref["configMapKeyRef"]["key"] == e["name"], e


def test_settings_read_only_from_a_nameko_config_are_known() -> None:
    """A config key the code reads that no config.yaml maps from the environment cannot be
    set by a deployment: each is listed here (and in docs/operations.md) until it is."""
    mapped = read_from_environment()
    config_only = set()
    for path in SOURCE_FILES:
        config_only |= set(CONFIG_READ.findall(path.read_text()))
    unmapped = config_only - mapped
    assert unmapped <= KNOWN_UNMAPPED, f"map {sorted(unmapped - KNOWN_UNMAPPED)} in config.yaml"
    guide = (ROOT / "docs/operations.md").read_text()
    for name in unmapped:
        assert name in guide, name
