"""Observability on the running suite: one request id followed from the gateway through
an RPC, a queued submission and a domain event, in every process's JSON log; the
gateway's /metrics counting requests by route template and status."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from engage_common.testing import eventually
from tests.conftest import Suite

SUBMIT_ROUTE = "/api/v1/consultations/<uuid:consultation_id>/responses"


def json_lines(path: Path, correlation_id: str) -> list[dict[str, Any]]:
    """The JSON lines of a process's log that carry ``correlation_id``."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if correlation_id in line and line.startswith("{"):
            found.append(json.loads(line))
    return [line for line in found if line.get("correlation_id") == correlation_id]


def submissions_counted(suite: Suite) -> float:
    text = requests.get(f"{suite.base_url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "engage_http_requests":
            return sum(
                s.value
                for s in family.samples
                if s.name == "engage_http_requests_total"
                and s.labels == {"method": "POST", "route": SUBMIT_ROUTE, "status": "202"}
            )
    return 0.0


def test_one_request_id_in_every_process_log_and_the_metrics_count_it(suite: Suite) -> None:
    token = suite.token("observer@obs.example", "engagement-officer")
    rid = f"abc-{uuid.uuid4().hex}"
    sent = {"X-Request-ID": rid}
    now = datetime.now(UTC)
    draft = {
        "title": "Observed consultation",
        "summary": "Followed through the logs.",
        "description": "Tell us.",
        "places": ["wakefield"],
        "priorities": ["living-well"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
        "questionnaire": {
            "questions": [{"id": "score", "type": "rating", "text": "Rate it from 0 to 10."}]
        },
    }
    made = suite.api("POST", "/staff/consultations", token, json=draft, headers=dict(sent))
    assert made.status_code == 201, made.text
    assert made.headers["X-Request-ID"] == rid
    cid = made.json()["id"]
    opened = suite.api("POST", f"/staff/consultations/{cid}/open", token, headers=dict(sent))
    assert opened.status_code == 200, opened.text
    shown = suite.api("GET", f"/consultations/{cid}")
    assert shown.headers["X-Request-ID"] not in ("", rid)  # one of ours when none was sent
    before = submissions_counted(suite)
    answer = {
        "answers": {"score": 7},
        "consent": {"given": True, "version": shown.json()["consent"]["version"]},
    }
    submitted = suite.api(
        "POST",
        f"/consultations/{cid}/responses",
        json=answer,
        headers={"X-Correlation-ID": rid, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert submitted.status_code == 202, submitted.text
    assert submitted.headers["X-Request-ID"] == rid

    gateway = json_lines(suite.logs / "gateway.log", rid)
    assert {(line["service"], line["message"].split(" ")[1]) for line in gateway} >= {
        ("gateway", "/api/v1/staff/consultations"),
        ("gateway", SUBMIT_ROUTE),
    }

    def surveys_calls() -> set[str]:
        lines = json_lines(suite.logs / "surveys.log", rid)
        return {line["message"].split(" ")[0] for line in lines if line.get("outcome") == "ok"}

    # The RPC calls, and the queued submission stored by the batch consumer.
    eventually(
        lambda: {"surveys.open_consultation", "surveys.store_submissions"} <= surveys_calls(),
        30,
        "surveys to log the RPC and the queued submission under the request's id",
    )

    def projected() -> set[str]:
        lines = json_lines(suite.logs / "projections.log", rid)
        return {line["message"].split(" ")[0] for line in lines}

    eventually(
        lambda: (
            {
                "gateway_projections.on_consultation_opened",
                "gateway_projections.on_response_submitted",
            }
            <= projected()
        ),
        30,
        "the read model to log the events under the request's id",
    )
    assert submissions_counted(suite) == before + 1

    proxied = requests.get(
        f"{suite.base_url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10
    )
    assert proxied.status_code == 404


def test_the_deployments_turn_json_logs_and_metrics_on_with_one_port() -> None:
    """docker-compose.yml and deploy/k8s: JSON logs, one metrics port named the same in
    the ConfigMap, the containers' ports and the scrape annotations, and the gateway's
    gunicorn started with its observability config (multiprocess folder, JSON lines)."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    base = root / "deploy/k8s/base"
    docs = [d for p in sorted(base.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert config["LOG_FORMAT"] == "json"
    port = int(config["METRICS_PORT"])
    assert config["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # the pods' writable emptyDir
    for doc in (d for d in docs if d["kind"] == "Deployment"):
        name = doc["metadata"]["name"]
        template = doc["spec"]["template"]
        (container,) = template["spec"]["containers"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = {e["name"] for e in container["env"]}
        if name == "gateway":
            assert int(annotations["prometheus.io/port"]) == ports["http"]
            assert {"LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR"} <= env
            assert container["command"][:3] == ["gunicorn", "-c", "python:gateway.observability"]
        else:
            assert int(annotations["prometheus.io/port"]) == ports["metrics"] == port, name
            assert {"LOG_FORMAT", "METRICS_PORT"} <= env, name
    for name, service in compose.items():
        env = service.get("environment", {})
        if "AMQP_URI" in env:  # an Engage process
            assert env["LOG_FORMAT"] == "${LOG_FORMAT:-json}", name
            if name == "gateway":
                assert "-c python:gateway.observability" in " ".join(service["command"])
                assert env["PROMETHEUS_MULTIPROC_DIR"]
            else:
                assert int(env["METRICS_PORT"]) == port, name


def test_gunicorn_workers_figures_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """The gateway as deployed: gunicorn with gateway.observability's config and two
    workers; /metrics (whichever worker answers) counts every worker's requests, and the
    folder holds nothing from before the start."""
    import os
    import socket
    import subprocess
    import sys

    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"stale")  # an earlier run's: emptied
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "LOG_FORMAT": "json"}
    command = [str(gunicorn), "-c", "python:gateway.observability", "-k", "gthread"]
    command += ["-w", "2", "-b", f"127.0.0.1:{port}", "gateway.app:create_app()"]
    log = tmp_path / "gateway.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, log.read_text()
            try:
                return requests.get(f"{base}/healthz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        eventually(up, 60, "gunicorn to answer", interval=0.2)
        sent = 1

        def both_workers_answered() -> bool:
            nonlocal sent
            assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
            sent += 1  # a connection each: the workers share them out
            return len(list(folder.glob("counter_*.db"))) >= 2

        eventually(both_workers_answered, 60, "both workers to answer a request", interval=0)

        def counted() -> float:
            text = requests.get(f"{base}/metrics", timeout=10).text
            return sum(
                s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name == "engage_http_requests_total" and s.labels["route"] == "/healthz"
            )

        assert counted() == sent  # every worker's requests, whichever answers the scrape
        got = requests.get(f"{base}/openapi.json", headers={"X-Request-ID": "mp-1"}, timeout=10)
        assert got.headers["X-Request-ID"] == "mp-1"
        assert "counter_999999.db" not in {p.name for p in folder.iterdir()}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert "gunicorn.error" in {line["logger"] for line in lines}  # gunicorn's own, as JSON
    assert {(line["logger"], line.get("route"), line.get("correlation_id")) for line in lines} >= {
        ("gateway.requests", "/openapi.json", "mp-1")
    }
