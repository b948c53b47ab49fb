"""docker-compose.yml against the Compose Specification's JSON schema (vendored in
deploy/schemas; the Docker CLI here has no `compose`), and beside a machine's own
RabbitMQ and PostgreSQL: only the gateway's port is published, on a port of its own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "deploy/schemas/compose-spec.json").read_text())
FILES = ["docker-compose.yml", "deploy/compose.ports.yml"]
# What ./engage up (and so a developer's machine) already listens on.
TAKEN = {5672, 15672, 25672, 5432, 8000}
DEFAULT = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", FILES)
def test_compose_files_follow_the_compose_specification(name: str) -> None:
    document = load(name)
    # The vendored schema predates the top-level `name` (deploy/schemas/README.md).
    project = document.pop("name", None)
    assert project is None or re.fullmatch(r"[a-z0-9][a-z0-9_-]*", project)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft201909Validator)


def test_the_schema_rejects_what_compose_would_reject() -> None:
    """The validation bites: an unknown key in a service is an error."""
    document = load("docker-compose.yml")
    document.pop("name")
    document["services"]["gateway"]["portz"] = ["8000:8000"]
    with pytest.raises(jsonschema.ValidationError, match="portz"):
        jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft201909Validator)


def published(port: str) -> tuple[str, int]:
    """(host address, host port) of a short-syntax mapping, with ${VAR:-default}s resolved."""
    resolved = DEFAULT.sub(lambda m: m.group(1), str(port))
    parts = resolved.split(":")
    assert len(parts) == 3, f"{port!r}: name the host address (127.0.0.1 by default)"
    return parts[0], int(parts[1])


def test_only_the_gateway_is_published_on_a_free_loopback_port() -> None:
    services = load("docker-compose.yml")["services"]
    with_ports = {name for name, service in services.items() if service.get("ports")}
    assert with_ports == {"gateway"}
    (port,) = services["gateway"]["ports"]
    address, host_port = published(port)
    assert (address, host_port) == ("127.0.0.1", 8080)
    assert host_port not in TAKEN
    # Both are settings: ENGAGE_HTTP_BIND and ENGAGE_HTTP_PORT.
    assert "${ENGAGE_HTTP_BIND:-" in port and "${ENGAGE_HTTP_PORT:-" in port
    assert services["gateway"]["environment"]["PUBLIC_URL"].endswith(f":{host_port}}}")


def test_the_optional_ports_file_keeps_clear_of_a_local_broker_and_database() -> None:
    services = load("deploy/compose.ports.yml")["services"]
    assert set(services) <= set(load("docker-compose.yml")["services"])
    for service in services.values():
        for port in service["ports"]:
            address, host_port = published(port)
            assert address == "127.0.0.1" and host_port not in TAKEN, port


def test_the_readme_and_operations_guide_give_the_compose_port() -> None:
    text = (ROOT / "docs/operations.md").read_text()
    assert "http://localhost:8080" in text and "ENGAGE_HTTP_PORT" in text
