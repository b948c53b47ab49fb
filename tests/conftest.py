"""The whole suite as real processes: ``nameko run`` for each service and gunicorn for
the gateway, on a fresh RabbitMQ vhost and fresh databases for this test run."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from engage_common.testing import Mailbox, eventually, smtp_server

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("surveys", "feedback", "events", "outcomes")
PROCESSES = (*SERVICES, "projections", "gateway")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Suite:
    amqp_uri: str
    databases: dict[str, str]
    base_url: str
    secret_key: str = "e2e-secret"
    logs: Path = ROOT / "var" / "test-logs"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    # Extra environment a process always starts with, e.g. {"gateway": {"X": "1"}}.
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)

    def env(self, owner: str) -> dict[str, str]:
        return {
            **os.environ,
            "AMQP_URI": self.amqp_uri,
            "DATABASE_URL": self.databases[owner],
            "SECRET_KEY": self.secret_key,
            "RPC_TIMEOUT": "3",
            "PSYCOPG_IMPL": "python",
        }

    def start(
        self, name: str, instance: str = "", port: int | None = None, **extra_env: str
    ) -> str:
        """Start a process: a service, ``gateway`` or ``projections`` (the gateway's
        read-model service); ``extra_env`` adds environment (e.g. nameko config).

        ``instance`` starts another process of the same kind alongside, kept as
        ``<name>-<instance>`` (what ``stop`` takes; returned); ``port`` puts a gateway on
        another port than ``base_url``'s."""
        key = f"{name}-{instance}" if instance else name
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{key}.log", "ab")  # noqa: SIM115 - kept open for the process
        owner = "gateway" if name == "projections" else name
        if name == "projections":
            cmd = [
                str(BIN / "nameko"),
                "run",
                "--config",
                str(ROOT / "gateway" / "projections.yaml"),
                "gateway.readmodels.projections",
            ]
        elif name == "gateway":
            port = port or self.base_url.rsplit(":", 1)[1]
            cmd = [
                str(BIN / "gunicorn"),
                "-k",
                "gthread",
                "--threads",
                "8",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "10",
                "gateway.app:create_app()",
            ]
        else:
            cmd = [
                str(BIN / "nameko"),
                "run",
                "--config",
                str(ROOT / "services" / name / "config.yaml"),
                f"{name}.service",
            ]
        env = {**self.env(owner), **self.overrides.get(name, {}), **extra_env}
        self.procs[key] = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return key

    def start_all(self, second_port: int | None = None, **extra_env: str) -> None:
        """Every process, the read model first and answering (its event queues bound)
        before any service starts, as ``./engage up`` does: an event published before a
        queue is bound to take it reaches nobody.
        ``second_port``: a second process of each kind too (``<name>-2``), its gateway
        on that port."""
        kinds = ["projections"] + [name for name in PROCESSES if name != "projections"]
        for name in kinds:
            self.start(name, **extra_env)
            if second_port is not None:
                self.start(name, instance="2", port=second_port, **extra_env)
            if name == "projections":
                eventually(
                    lambda: self.answers("gateway_projections", timeout=5),
                    90,
                    "the read model",
                    interval=0.2,
                )

    def stop(self, name: str, sig: str = "TERM") -> None:
        proc = self.procs.pop(name)
        if sig == "KILL":
            proc.kill()
        else:
            proc.terminate()
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        """SIGTERM every process at once, then wait for each (one after another, each
        stopping gracefully, took seconds apiece)."""
        procs = list(self.procs.values())
        self.procs.clear()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                # nameko can hang when told to stop while still starting: never leave it.
                proc.kill()
                proc.wait(timeout=30)

    def wait_ready(self, timeout: float = 90) -> None:
        """Every started process answers (the gateway's /readyz, the projections' health)."""

        def ready() -> bool:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.logs}")
            try:
                got = requests.get(f"{self.base_url}/readyz", timeout=10)
            except requests.RequestException:  # not up yet, or slow to answer (busy machine)
                return False
            return got.status_code == 200 and self.answers("gateway_projections")

        eventually(ready, timeout, "the suite to be ready", interval=0.3)

    def gateway_workers(self) -> int:
        return int(self.overrides.get("gateway", {}).get("WEB_CONCURRENCY", "1"))

    def readyz(self) -> dict[str, Any]:
        """One /readyz answer, from whichever gateway worker takes the connection."""
        return requests.get(f"{self.base_url}/readyz", timeout=15).json()

    def gateway_sees(self, service: str, up: bool = True, timeout: float = 60) -> None:
        """Wait until every gateway worker's /readyz says ``service`` answers (or, with
        ``up=False``, that it does not): each worker keeps its own view of the services."""
        last: dict[str, bool] = {}

        def every_worker() -> bool:
            body = self.readyz()
            last[body["instance"]] = (body["checks"][service] == "ok") is up
            return len(last) >= self.gateway_workers() and all(last.values())

        eventually(
            every_worker,
            timeout,
            f"every gateway worker to see {service} {'up' if up else 'down'}",
            interval=0.02,
        )

    def token(self, email: str, role: str) -> str:
        """A staff bearer token for a new staff user, made the way an admin would:
        with ``python -m gateway.cli``."""
        run = [sys.executable, "-m", "gateway.cli"]
        env = self.env("gateway")
        subprocess.run(
            [*run, "create-staff", "--email", email, "--name", role, "--role", role],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [*run, "issue-token", "--email", email],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return re.findall(r"\S{30,}", out)[-1]

    def api(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """A request to ``/api/v1<path>``, as staff when ``token`` is given."""
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method,
            f"{self.base_url}/api/v1{path}",
            headers=headers,
            timeout=kwargs.pop("timeout", 20),
            **kwargs,
        )

    def dashboard_entry(self, cid: str) -> dict[str, Any] | None:
        """The consultation's line in the public "you said, we did" read model, if any."""
        r = self.api("GET", "/you-said-we-did")
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["consultations"] if c["id"] == cid), None)

    def answers(self, service: str, timeout: float = 2) -> bool:
        """True when the nameko service ``service`` answers its health RPC (or is not
        running here at all: only started processes are waited for)."""
        if service == "gateway_projections" and "projections" not in self.procs:
            return True
        from engage_common.healthcheck import check

        try:
            check(service, self.amqp_uri, timeout=timeout)
        except Exception:
            return False
        return True


def start_suite(
    make_vhost: Callable[[], str],
    make_database: Callable[[str], str],
    overrides: dict[str, dict[str, str]] | None = None,
) -> Suite:
    """Fresh vhost and (migrated) databases, every process started and ready."""
    databases = {name: make_database(name) for name in (*SERVICES, "gateway")}
    s = Suite(
        amqp_uri=make_vhost(),
        databases=databases,
        base_url=f"http://127.0.0.1:{free_port()}",
        overrides=dict(overrides or {}),
    )
    try:
        s.start_all()
        s.wait_ready()
    except BaseException:
        s.stop_all()
        raise
    return s


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server the session suite's feedback and outcomes services send mail to."""
    box, _, stop = smtp_server()
    yield box
    stop()


def mail_settings(box: Mailbox) -> dict[str, str]:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(box.port), "SMTP_FROM": "engage@test"}


@pytest.fixture(scope="session")
def suite(make_vhost, make_database, mailbox: Mailbox) -> Iterator[Suite]:
    mail = mail_settings(mailbox)
    s = start_suite(
        make_vhost,
        make_database,
        overrides={
            "feedback": mail,
            "outcomes": {**mail, "OUTCOMES_DIGEST_INTERVAL": "1"},
            # A demo offers every shipped language, reviewed or not (the pages' tests).
            # Every test writes from 127.0.0.1: a resident's limit of 60 writes a minute
            # was met once the heavy tests ran apart (r2); gateway/tests/test_security.py
            # tests the limit itself.
            "gateway": {"ENGAGE_DEMO": "1", "RATE_LIMIT_PER_MINUTE": "6000"},
        },
    )
    try:
        yield s
    finally:
        s.stop_all()
