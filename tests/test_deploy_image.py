"""deploy/Dockerfile (Docker does not run here, so it is read): a small base, the
constraints file the README installs from, a non-root user, and a HEALTHCHECK that runs
the real check for the role the container runs (deploy/healthcheck.py)."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "deploy/Dockerfile").read_text()
spec = importlib.util.spec_from_file_location("image_healthcheck", ROOT / "deploy/healthcheck.py")
assert spec and spec.loader
image_healthcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(image_healthcheck)


def test_small_base_pinned_installs_and_a_non_root_user() -> None:
    assert re.search(r"^FROM python:3\.11-slim$", DOCKERFILE, re.M)
    readme = (ROOT / "README.md").read_text() + (ROOT / "engage").read_text()
    assert "constraints.txt" in readme
    joined = DOCKERFILE.replace("\\\n", " ")
    installs = re.findall(r"^RUN pip install .*$", joined, re.M)
    assert len(installs) == 2, "the build tools, then Engage's packages"
    for line in installs:
        assert line.split()[-2:] == ["-c", "/app/constraints.txt"], line
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "--no-build-isolation" in DOCKERFILE  # builds with the pinned setuptools
    ignore = (ROOT / "deploy/Dockerfile.dockerignore").read_text().split()
    assert {"**/.venv", "**/node_modules", ".git"} <= set(ignore)


def test_the_healthcheck_runs_the_role_check() -> None:
    match = re.search(r"^HEALTHCHECK\s.*?CMD\s+(\[.*\])$", DOCKERFILE, re.M | re.S)
    assert match, "the image has a HEALTHCHECK"
    command = yaml.safe_load(match.group(1))
    assert command == ["python", "/app/deploy/healthcheck.py"]
    assert "COPY deploy/healthcheck.py /app/deploy/healthcheck.py" in DOCKERFILE


COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
K8S = {
    d["metadata"]["name"]: d
    for p in (ROOT / "deploy/k8s/base").glob("*.yaml")
    for d in yaml.safe_load_all(p.read_text())
    if d and d.get("kind") == "Deployment"
}


def compose_command(name: str) -> str:
    command = COMPOSE["services"][name]["command"]
    return command if isinstance(command, str) else shlex.join(command)


@pytest.mark.parametrize(
    ("app", "role"),
    [
        ("surveys", ("rpc", "surveys")),
        ("feedback", ("rpc", "feedback")),
        ("events", ("rpc", "events")),
        ("outcomes", ("rpc", "outcomes")),
        ("projections", ("rpc", "gateway_projections")),
        ("gateway", ("http", "http://127.0.0.1:8000/readyz")),
    ],
)
def test_each_role_is_recognised_from_its_real_command(app: str, role: tuple[str, str]) -> None:
    """The commands compose and Kubernetes start are the ones the script understands."""
    (container,) = K8S[app]["spec"]["template"]["spec"]["containers"]
    assert image_healthcheck.role_of(" ".join(container["command"])) == role
    assert image_healthcheck.role_of(compose_command(app)) == role


def test_a_one_off_command_is_healthy() -> None:
    assert image_healthcheck.role_of("python -m gateway.cli migrate") is None
    assert image_healthcheck.role_of("python -m engage_common.migrate url dir") is None
