"""docker-compose.yml and deploy/ must agree with the code they deploy.

Docker does not run on the CI machine, so these parse the files and compare them
with the source tree; the healthcheck module they rely on is run for real.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = sorted(
    p.name
    for p in (ROOT / "services").iterdir()
    if p.is_dir() and not p.name.startswith((".", "_"))
)
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
INFRA = {"rabbitmq", "postgres"}
APPS = [*SERVICES, "projections", "gateway"]
DOCKERFILE = (ROOT / "deploy/Dockerfile").read_text()
INIT_SQL = (ROOT / "deploy/postgres-init/01-databases.sql").read_text()
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def k8s_documents() -> list[dict[str, Any]]:
    """The base's manifests and the example Secret (the overlay only patches them)."""
    docs = []
    paths = [*(ROOT / "deploy/k8s/base").glob("*.yaml"), ROOT / "deploy/k8s/secret.example.yaml"]
    for path in sorted(paths):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


K8S = k8s_documents()


def k8s(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in K8S if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name} in deploy/k8s, found {len(found)}"
    return found[0]


def pod_spec(name: str) -> dict[str, Any]:
    return k8s("Deployment", name)["spec"]["template"]["spec"]


def main_container(name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(name)["containers"] if c["name"] == name)


PROJECTIONS_CONFIG = ROOT / "gateway" / "projections.yaml"


def config_env(service: str) -> dict[str, str | None]:
    """``${VAR:default}`` references in a service's nameko config: {VAR: default}."""
    path = (
        PROJECTIONS_CONFIG
        if service == "projections"
        else (ROOT / "services" / service / "config.yaml")
    )
    config = yaml.safe_load(path.read_text())
    found: dict[str, str | None] = {}

    def scan(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                scan(item)
        elif isinstance(value, list):
            for item in value:
                scan(item)
        elif isinstance(value, str):
            found.update((m.group(1), m.group(2)) for m in ENV_VAR.finditer(value))

    scan(config)
    return found


def compose_command(name: str) -> str:
    command = COMPOSE["services"][name]["command"]
    return command if isinstance(command, str) else " ".join(command)


def k8s_commands(name: str) -> str:
    """The migration Job's command for ``name``'s database, then the Deployment's."""
    job = k8s("Job", "engage-migrate")["spec"]["template"]["spec"]
    database = "gateway" if name == "projections" else name
    migrate = next(
        c for c in job.get("initContainers", []) + job["containers"] if c["name"] == database
    )
    spec = pod_spec(name)
    return " ".join(
        " ".join(c.get("command", []) + c.get("args", []))
        for c in [migrate, *spec.get("initContainers", []), *spec["containers"]]
    )


def process_env(name: str) -> set[str]:
    """What the code run by ``name`` reads besides its nameko config: the ICS
    (engage_contracts.ics), the probe's timeout (engage_common.healthcheck) for the nameko
    processes, and the outcomes service's digest interval (outcomes/service.py)."""
    if name == "gateway":
        # engage_common.logs reads LOG_FORMAT from the environment for the gateway (the
        # nameko processes have it in their config); gateway.observability reads
        # PROMETHEUS_MULTIPROC_DIR.
        return EVERY_PROCESS | {"LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR"}
    extra = {"OUTCOMES_DIGEST_INTERVAL"} if name == "outcomes" else set()
    return EVERY_PROCESS | {"HEALTHCHECK_TIMEOUT"} | extra


# What every process reads besides its own settings: the ICS it serves (engage_contracts.ics).
EVERY_PROCESS = {"ENGAGE_ICS_CONFIG"}


def gateway_settings_env() -> set[str]:
    source = (ROOT / "gateway/gateway/config.py").read_text()
    names = set(re.findall(r"""env\.get\(\s*["']([A-Z0-9_]+)["']""", source))
    assert names, "found no env.get(...) in gateway/gateway/config.py"
    return names


def test_every_service_directory_is_deployed() -> None:
    assert {"surveys", "feedback", "events"} <= set(SERVICES)
    for service in SERVICES:
        assert service in COMPOSE["services"], f"{service} missing from docker-compose.yml"
        assert main_container(service)["image"]
    assert set(COMPOSE["services"]) == {*APPS, *INFRA}


@pytest.mark.parametrize("service", SERVICES)
def test_service_env_matches_its_nameko_config(service: str) -> None:
    wanted = set(config_env(service)) | process_env(service)
    assert wanted >= {"AMQP_URI", "DATABASE_URL"}
    assert set(COMPOSE["services"][service]["environment"]) == wanted
    for container in pod_spec(service).get("initContainers", []) + pod_spec(service)["containers"]:
        assert {e["name"] for e in container["env"]} == wanted, container["name"]


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@pytest.mark.parametrize("service", SERVICES)
def test_service_database_is_created_and_matches_config(service: str) -> None:
    name = database_of(COMPOSE["services"][service]["environment"]["DATABASE_URL"])
    assert name == f"engage_{service}"
    assert re.search(rf"CREATE DATABASE {name};", INIT_SQL)
    assert database_of(config_env(service)["DATABASE_URL"] or "") == name
    secret = k8s("Secret", "engage-secrets")["stringData"]
    assert database_of(secret[f"{service}-database-url"]) == name


def test_compose_points_at_compose_hostnames() -> None:
    for name in APPS:
        env = COMPOSE["services"][name]["environment"]
        assert urlsplit(env["AMQP_URI"]).hostname == "rabbitmq"
        assert urlsplit(env["DATABASE_URL"]).hostname == "postgres"
        assert COMPOSE["services"][name]["depends_on"] == {
            "rabbitmq": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }


def test_gateway_gets_every_setting_it_reads() -> None:
    wanted = gateway_settings_env()
    assert wanted >= {"AMQP_URI", "DATABASE_URL", "SECRET_KEY", "ENGAGE_ENV"}
    assert wanted <= set(COMPOSE["services"]["gateway"]["environment"])
    assert (
        database_of(COMPOSE["services"]["gateway"]["environment"]["DATABASE_URL"])
        == "engage_gateway"
    )
    assert "CREATE DATABASE engage_gateway;" in INIT_SQL
    for container in (
        pod_spec("gateway").get("initContainers", []) + pod_spec("gateway")["containers"]
    ):
        assert wanted <= {e["name"] for e in container["env"]}, container["name"]


def test_k8s_env_references_exist() -> None:
    secret = set(k8s("Secret", "engage-secrets")["stringData"])
    config = set(k8s("ConfigMap", "engage-config")["data"])
    for name in APPS:
        spec = pod_spec(name)
        for container in spec.get("initContainers", []) + spec["containers"]:
            for env in container["env"]:
                ref = env.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["key"] in secret, env
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["key"] in config, env


def gunicorn_port(command: str) -> int:
    match = re.search(r"gunicorn\b.*?-b\s+['\"]?[\d.]+:(\d+)", command)
    assert match, f"no gunicorn bind in {command!r}"
    return int(match.group(1))


def test_gateway_port_agrees_everywhere() -> None:
    gateway = COMPOSE["services"]["gateway"]
    port = gunicorn_port(compose_command("gateway"))
    assert gunicorn_port(k8s_commands("gateway")) == port
    assert [str(p).rsplit(":", 1)[1] for p in gateway["ports"]] == [str(port)]
    assert f":{port}/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert f"EXPOSE {port}" in DOCKERFILE
    container = main_container("gateway")
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
    service = k8s("Service", "gateway")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port]
    assert (
        service["spec"]["selector"]
        == k8s("Deployment", "gateway")["spec"]["selector"]["matchLabels"]
    )


def test_every_compose_service_has_a_healthcheck() -> None:
    for name, service in COMPOSE["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for service in SERVICES:
        assert COMPOSE["services"][service]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "-m",
            "engage_common.healthcheck",
            service,
        ]
        for probe in ("readinessProbe", "livenessProbe"):
            command = main_container(service)[probe]["exec"]["command"]
            assert command == ["python", "-m", "engage_common.healthcheck", service]


def all_images() -> Iterator[tuple[str, str]]:
    for name, service in COMPOSE["services"].items():
        if "image" in service:
            yield f"compose {name}", service["image"]
    for doc in K8S:
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                yield f"k8s {doc['metadata']['name']}/{c['name']}", c["image"]
    for match in re.finditer(r"^FROM\s+(\S+)", DOCKERFILE, re.M):
        yield "Dockerfile", match.group(1)


def test_images_are_pinned() -> None:
    images = list(all_images())
    assert len(images) > 4
    for where, image in images:
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), f"{where}: {image}"


def test_dockerfile_matches_the_python_and_requirements() -> None:
    base = re.search(r"^FROM\s+python:(\d+)\.(\d+)", DOCKERFILE, re.M)
    assert base and base.groups() == ("3", "11")
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert requires and ">=3.11" in requires.group(1)
    install = re.search(
        r"^RUN pip install --no-build-isolation ((?:\\\n|[^\n])+)", DOCKERFILE, re.M
    )
    assert install, "the Dockerfile installs Engage's packages with pip"
    words = install.group(1).replace("\\\n", " ").split()
    assert words[-2:] == ["-c", "/app/constraints.txt"]
    packages = sorted(
        p.parent.relative_to(ROOT)
        for p in ROOT.glob("*/**/pyproject.toml")
        if ".venv" not in p.parts
    )
    assert sorted(Path(w.removeprefix("/app/")) for w in words[:-2]) == packages
    assert "libpq5" in DOCKERFILE
    assert re.search(r"^USER\s+(?!root|0\b)", DOCKERFILE, re.M)
    assert "PYTHONPATH" not in DOCKERFILE
    for part in ("libs", "services", "gateway"):
        assert re.search(rf"^COPY {part} /app/{part}$", DOCKERFILE, re.M)


def app_paths(command: str) -> list[str]:
    return [w for w in shlex.split(command.replace("$$", "$")) if w.startswith("/app/")]


@pytest.mark.parametrize("service", SERVICES)
def test_service_commands_migrate_then_run_what_exists(service: str) -> None:
    for command in (compose_command(service), k8s_commands(service)):
        paths = app_paths(command)
        assert f"/app/services/{service}/{service}/migrations" in paths
        assert f"/app/services/{service}/config.yaml" in paths
        for path in paths:
            assert (ROOT / path.removeprefix("/app/")).exists(), path
        assert list((ROOT / f"services/{service}/{service}/migrations").glob("*.sql"))
        assert command.index("engage_common.migrate") < command.index("nameko run")
        assert re.search(rf"nameko run --config \S+ {service}\.service\b", command)
        assert (ROOT / f"services/{service}/{service}/service.py").is_file()


def test_gateway_command_migrates_then_serves_the_app_factory() -> None:
    for command in (compose_command("gateway"), k8s_commands("gateway")):
        assert command.index("gateway.cli migrate") < command.index("gunicorn")
        assert (
            "'gateway.app:create_app()'" in command
            or '"gateway.app:create_app()"' in command
            or "gateway.app:create_app()" in command.split()
        )
        assert "-k gthread" in command
    cli = (ROOT / "gateway/gateway/cli.py").read_text()
    assert re.search(r"^def migrate\(", cli, re.M)
    assert list((ROOT / "gateway/gateway/migrations").glob("*.sql"))
    assert "def create_app(" in (ROOT / "gateway/gateway/app.py").read_text()


def test_projections_migrate_the_gateway_database_then_run() -> None:
    """The gateway's read-model service: its own process, the gateway's database."""
    wanted = set(config_env("projections"))
    assert wanted == {
        "AMQP_URI",
        "DATABASE_URL",
        "DB_POOL_SIZE",
        "DB_POOL_IDLE_SECONDS",
        "LOG_FORMAT",
        "METRICS_PORT",
    }
    wanted |= process_env("projections")
    compose = COMPOSE["services"]["projections"]
    assert set(compose["environment"]) == wanted
    assert database_of(compose["environment"]["DATABASE_URL"]) == "engage_gateway"
    assert database_of(config_env("projections")["DATABASE_URL"] or "") == "engage_gateway"
    spec = pod_spec("projections")
    for container in spec.get("initContainers", []) + spec["containers"]:
        env = {e["name"]: e for e in container["env"]}
        assert set(env) == wanted, container["name"]
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "gateway-database-url"
    for command in (compose_command("projections"), k8s_commands("projections")):
        assert command.index("gateway.cli migrate") < command.index("nameko run")
        assert (
            "nameko run --config /app/gateway/projections.yaml gateway.readmodels.projections"
            in command
        )
        for path in app_paths(command):
            assert (ROOT / path.removeprefix("/app/")).exists(), path
    assert (ROOT / "gateway/gateway/readmodels/projections.py").is_file()
    check = ["python", "-m", "engage_common.healthcheck", "gateway_projections"]
    assert compose["healthcheck"]["test"] == ["CMD", *check]
    assert main_container("projections")["readinessProbe"]["exec"]["command"] == check
    assert main_container("projections")["livenessProbe"]["exec"]["command"] == check
    source = (ROOT / "gateway/gateway/readmodels/projections.py").read_text()
    assert 'name = "gateway_projections"' in source


def test_postgres_init_scripts_are_mounted() -> None:
    volumes = COMPOSE["services"]["postgres"]["volumes"]
    mount = next(v for v in volumes if "docker-entrypoint-initdb.d" in v)
    assert (ROOT / mount.split(":")[0]).resolve() == ROOT / "deploy/postgres-init"


# --- the healthcheck module the compose file and k8s probes run, run for real ---------


def run_healthcheck(service: str, amqp_uri: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMQP_URI": amqp_uri, "HEALTHCHECK_TIMEOUT": "5"}
    return subprocess.run(
        [sys.executable, "-m", "engage_common.healthcheck", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthcheck_passes_against_a_running_service(
    container_factory, make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> None:
    from events.service import EventsService

    config = {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("events")}
    container = container_factory(EventsService, config)
    container.start()
    result = run_healthcheck("events", config["AMQP_URI"])
    assert result.returncode == 0, result.stderr
    assert "events: healthy" in result.stdout


def test_healthcheck_fails_when_nobody_answers(make_vhost: Callable[[], str]) -> None:
    result = run_healthcheck("events", make_vhost())
    assert result.returncode == 1
    assert "events: unhealthy" in result.stderr


def test_healthcheck_fails_when_the_service_database_is_down(
    container_factory, make_vhost: Callable[[], str]
) -> None:
    from events.service import EventsService

    config = {
        "AMQP_URI": make_vhost(),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/engage_no_such_db",
    }
    container_factory(EventsService, config).start()
    result = run_healthcheck("events", config["AMQP_URI"])
    assert result.returncode == 1
    assert "does not exist" in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_nameko_run_with_the_shipped_config_is_healthy(
    service: str, make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> None:
    """The exact process compose starts: ``nameko run --config config.yaml <s>.service``."""
    amqp_uri = make_vhost()
    env = {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "DATABASE_URL": make_database(service),
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "nameko"),
            "run",
            "--config",
            str(ROOT / "services" / service / "config.yaml"),
            f"{service}.service",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = None
        for _ in range(30):
            result = run_healthcheck(service, amqp_uri)
            if result.returncode == 0 or proc.poll() is not None:
                break
        assert result is not None and result.returncode == 0, result and result.stderr
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert "starting services" in output.lower()  # LOGGING went to stdout


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_environment_is_exactly_what_constraints_txt_pins() -> None:
    """A fresh clone installs exactly what was tested: every installed distribution is
    pinned in constraints.txt at its installed version, and nothing pinned is missing."""
    from importlib.metadata import distributions

    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pinned[_canonical(name)] = version
    installed = {
        _canonical(d.metadata["Name"]): d.version
        for d in distributions()
        if not _canonical(d.metadata["Name"]).startswith("engage-")
    }  # our own
    installed.pop("pip", None)
    assert installed == pinned


def test_every_process_is_told_which_ics_it_serves() -> None:
    """Every process reads the ICS configuration at start (engage_contracts.ics): compose
    and every k8s container name it, and the name is a shipped configuration."""
    from engage_contracts.ics import SHIPPED

    shipped = {p.stem for p in SHIPPED.glob("*.yaml")}
    for app in APPS:
        value = COMPOSE["services"][app]["environment"]["ENGAGE_ICS_CONFIG"]
        assert value.removeprefix("${ENGAGE_ICS_CONFIG:-").rstrip("}") in shipped, app
        for container in pod_spec(app).get("initContainers", []) + pod_spec(app)["containers"]:
            env = {e["name"]: e for e in container["env"]}
            ref = env["ENGAGE_ICS_CONFIG"]["valueFrom"]["configMapKeyRef"]
            assert ref["key"] == "ENGAGE_ICS_CONFIG", (app, container["name"])
    assert k8s("ConfigMap", "engage-config")["data"]["ENGAGE_ICS_CONFIG"] in shipped


@pytest.mark.parametrize("app", [*SERVICES, "projections"])
def test_pool_settings_reach_the_nameko_config(app: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``DB_POOL_SIZE`` and ``DB_POOL_IDLE_SECONDS`` from the environment are what the
    process's ``Database`` provider reads (nameko's own ``${VAR:default}`` constructor, as
    ``nameko run`` loads a config; on a loader of its own, so ``yaml.safe_load`` elsewhere
    still sees the references)."""
    from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor

    class NamekoLoader(yaml.SafeLoader):
        pass

    NamekoLoader.add_constructor("!env_var", env_var_constructor)
    NamekoLoader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)
    path = PROJECTIONS_CONFIG if app == "projections" else ROOT / "services" / app / "config.yaml"
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    monkeypatch.delenv("DB_POOL_IDLE_SECONDS", raising=False)
    defaults = yaml.load(path.read_text(), NamekoLoader)
    assert (defaults["DB_POOL_SIZE"], defaults["DB_POOL_IDLE_SECONDS"]) == (12, 10)
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    monkeypatch.setenv("DB_POOL_IDLE_SECONDS", "2.5")
    config = yaml.load(path.read_text(), NamekoLoader)
    assert (config["DB_POOL_SIZE"], config["DB_POOL_IDLE_SECONDS"]) == (4, 2.5)
