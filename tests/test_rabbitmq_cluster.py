"""A RabbitMQ node dies and nothing is lost: a three-node cluster started here (as the
current user, ports away from the machine's own RabbitMQ), the surveys service and a
publisher given all three nodes, submissions flowing while the node leading
``surveys.submissions`` is killed; every submission whose publish was confirmed is
stored exactly once.

Each node: its own name, AMQP port, distribution port (bound to 127.0.0.1), config file,
data and log folders, no plugins; an epmd of their own on a free port, so nothing is
left running and the machine's RabbitMQ is never touched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import eventlet
import pytest
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import connect
from engage_common.messaging import DurablePublisher
from engage_common.testing import eventually
from engage_contracts.reference import current_consent
from tests.conftest import BIN, ROOT, free_port

pytestmark = pytest.mark.heavy  # ./engage test runs it beside the rest

NODES = ("engage-c1@localhost", "engage-c2@localhost", "engage-c3@localhost")


def rabbitmq_bin() -> Path | None:
    """The folder of RabbitMQ's own scripts (Debian's ``/usr/sbin`` ones are wrappers
    that switch to the rabbitmq user)."""
    found = shutil.which("rabbitmq-server") or (
        "/usr/lib/rabbitmq/bin/rabbitmq-server"
        if os.path.exists("/usr/lib/rabbitmq/bin/rabbitmq-server")
        else None
    )
    if found is None:
        return None
    real = Path(os.path.realpath(found))
    return real.parent if real.name == "rabbitmq-server" else Path("/usr/lib/rabbitmq/bin")


class Cluster:
    def __init__(self, scripts: Path, base: Path) -> None:
        self.scripts, self.base = scripts, base
        self.cookie = secrets.token_hex(16)
        self.epmd_port = free_port()
        self.ports = {node: free_port() for node in NODES}
        self.dist_ports = {node: free_port() for node in NODES}
        self.procs: dict[str, subprocess.Popen] = {}
        self.epmd: subprocess.Popen | None = None
        self.plugins = base / "enabled_plugins"
        self.plugins.write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")

    def uri(self, node: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.ports[node]}/"

    def env(self, node: str | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "HOME": str(self.base),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.plugins),
        }
        env.pop("ERL_FLAGS", None)
        if node is not None:
            home = self.base / node.split("@")[0]
            home.mkdir(exist_ok=True)
            config = home / "rabbitmq.conf"
            config.write_text(
                f"listeners.tcp.1 = 127.0.0.1:{self.ports[node]}\n"
                "cluster_formation.peer_discovery_backend = classic_config\n"
                f"cluster_formation.classic_config.nodes.1 = {NODES[0]}\n"
            )
            env.update(
                RABBITMQ_NODENAME=node,
                RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_NODE_PORT=str(self.ports[node]),
                RABBITMQ_DIST_PORT=str(self.dist_ports[node]),
                RABBITMQ_CONFIG_FILE=str(config),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(home / "advanced.config"),
                RABBITMQ_MNESIA_BASE=str(home / "mnesia"),
                RABBITMQ_LOG_BASE=str(home / "log"),
                RABBITMQ_PID_FILE=str(home / "pid"),
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=(
                    f"-setcookie {self.cookie} -kernel inet_dist_use_interface {{127,0,0,1}}"
                ),
                # exec the VM in place: the process started is the node, killable by pid
                RUNNING_UNDER_SYSTEMD="true",
            )
        return env

    def start_epmd(self) -> None:
        self.epmd = subprocess.Popen(
            ["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(lambda: listening(self.epmd_port), 10, "epmd", interval=0.1)

    def start(self, node: str) -> None:
        log = open(self.base / f"{node.split('@')[0]}.out", "ab")  # noqa: SIM115 - the node's
        self.procs[node] = subprocess.Popen(
            [str(self.scripts / "rabbitmq-server")],
            env=self.env(node),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_up(self, node: str, timeout: float = 60) -> None:
        """Its AMQP listener opens once it has booted (and joined the cluster)."""

        def up() -> bool:
            if self.procs[node].poll() is not None:
                raise RuntimeError(f"{node} exited; see {self.base}")
            return listening(self.ports[node])

        eventually(up, timeout, f"{node} to boot", interval=0.2)

    def ctl(self, node: str, *args: str) -> str:
        return subprocess.run(
            [str(self.scripts / "rabbitmqctl"), "-n", node, "--erlang-cookie", self.cookie, *args],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def kill(self, node: str) -> None:
        proc = self.procs[node]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in [*self.procs.values(), *([self.epmd] if self.epmd else [])]:
            if proc.poll() is None:
                proc.kill()
        for proc in [*self.procs.values(), *([self.epmd] if self.epmd else [])]:
            proc.wait(timeout=30)


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    scripts = rabbitmq_bin()
    if scripts is None:
        pytest.skip("rabbitmq-server is not installed: the three-node cluster cannot start")
    base = Path(tempfile.mkdtemp(prefix="engage-cluster-"))
    made = Cluster(scripts, base)
    try:
        made.start_epmd()
        made.start(NODES[0])
        made.wait_up(NODES[0])
        for node in NODES[1:]:  # they join the first as they boot
            made.start(node)
        for node in NODES[1:]:
            made.wait_up(node)
        yield made
    finally:
        made.stop_all()
        shutil.rmtree(base, ignore_errors=True)


def answers(rpc: Any, seen: list[str]) -> bool:
    """Whether surveys answers its health RPC; what it raised or said instead goes in
    ``seen``, for the failure message."""
    try:
        health = rpc.surveys.health()
    except (UnknownService, RpcTimeout) as exc:  # its RPC queue is not there, or not consumed
        seen.append(f"{datetime.now(UTC):%H:%M:%S.%f} {type(exc).__name__}: {exc}")
        return False
    if health != {"service": "surveys", "database": True}:
        seen.append(f"{datetime.now(UTC):%H:%M:%S.%f} answered {health!r}")
        return False
    return True


def diagnosis(cluster: Cluster, survivor: str, log: Path, since: datetime) -> str:
    """What a surviving node holds and says, and what surveys logged since ``since``:
    the queues (with their node, consumers and messages), the node's last log lines and
    surveys' own lines (its stored submissions left out)."""
    columns = ("name", "type", "durable", "pid", "leader", "consumers", "messages")
    try:
        queues = cluster.ctl(survivor, "list_queues", *columns)
    except (subprocess.SubprocessError, OSError) as exc:
        queues = f"(list_queues failed: {exc})"
    name = survivor.split("@")[0]
    node_log = cluster.base / name / "log" / f"{survivor}.log"
    node_lines = node_log.read_text(errors="replace").splitlines() if node_log.exists() else []
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        message = str(entry.get("message", "")).splitlines()[0][:200]
        if entry.get("time", "") < since.isoformat(timespec="milliseconds")[:23] or (
            entry.get("logger") == "engage.entrypoints" and " ok in " in message
        ):
            continue
        lines.append(
            f"{entry['time'][11:23]} {entry.get('level')} {entry.get('logger')}: {message}"
        )
    return "\n".join(
        [
            f"queues on {survivor}:",
            queues,
            f"the last lines of {node_log}:",
            *node_lines[-25:],
            "surveys' log since the kill:",
            *lines[-40:],
        ]
    )


def submission(consultation_id: str) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    return {
        "submission_id": sid,
        "receipt_code": "T-" + sid[:13].upper(),
        "consultation_id": consultation_id,
        "answers": {"pick": "a"},
        "equality": None,
        "place": None,
        "consent": {"given": True, "version": current_consent()["version"]},
        "submitted_at": datetime.now(UTC).isoformat(),
        "channel": "online",
    }


def test_killing_the_node_leading_the_submissions_queue_loses_no_submission(
    cluster: Cluster, make_database: Callable[[str], str]
) -> None:
    amqp_uri = ";".join(cluster.uri(node) for node in NODES)
    database = make_database("surveys")
    (ROOT / "var" / "test-logs").mkdir(parents=True, exist_ok=True)
    log_path = ROOT / "var" / "test-logs" / "cluster-surveys.log"
    log = open(log_path, "ab")  # noqa: SIM115
    surveys = subprocess.Popen(
        [
            str(BIN / "nameko"),
            "run",
            "--config",
            str(ROOT / "services" / "surveys" / "config.yaml"),
            "surveys.service",
        ],
        cwd=ROOT,
        env={**os.environ, "AMQP_URI": amqp_uri, "DATABASE_URL": database},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    publishing = True
    confirmed: list[str] = []
    failed: list[str] = []

    def publish() -> None:
        publisher = DurablePublisher(amqp_uri)
        while publishing:
            body = submission(cid)
            try:
                publisher.submit("surveys", body, message_id=body["submission_id"])
            except Exception:  # not confirmed: the gateway would answer 503
                failed.append(body["submission_id"])
            else:
                confirmed.append(body["submission_id"])
            eventlet.sleep(0.005)

    try:
        now = datetime.now(UTC)
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as rpc:

            def create() -> dict[str, Any] | None:
                try:
                    return rpc.surveys.create_consultation(
                        {
                            "title": "Cluster",
                            "summary": "A node dies",
                            "places": ["leeds"],
                            "priorities": ["living-well"],
                            "opens_at": (now - timedelta(minutes=1)).isoformat(),
                            "closes_at": (now + timedelta(days=1)).isoformat(),
                            "questionnaire": {
                                "questions": [
                                    {
                                        "id": "pick",
                                        "type": "single_choice",
                                        "text": "Which one?",
                                        "options": [
                                            {"value": "a", "label": "A"},
                                            {"value": "b", "label": "B"},
                                        ],
                                    }
                                ]
                            },
                        }
                    )
                except UnknownService:  # not consuming yet
                    return None

            cid = eventually(create, 60, "surveys to answer", interval=0.2)["id"]
            rpc.surveys.open_consultation(cid)
        sender = eventlet.spawn(publish)
        eventually(lambda: len(confirmed) >= 50, 30, "50 confirmed submissions")
        queues = json.loads(
            cluster.ctl(
                NODES[1], "list_queues", "name", "type", "leader", "members", "--formatter", "json"
            )
        )
        queue = next(q for q in queues if q["name"] == "surveys.submissions")
        assert queue["type"] == "quorum" and sorted(queue["members"]) == sorted(NODES)
        leader = queue["leader"]
        before = len(confirmed)
        killed_at, killed_when = time.monotonic(), datetime.now(UTC)
        cluster.kill(leader)
        eventually(lambda: len(confirmed) >= before + 100, 60, "100 confirmed after the kill")
        hundred_in = time.monotonic() - killed_at
        publishing = False
        sender.wait()
        # Its RPC queue went with the node; surveys declared it again where it reconnected.
        seen: list[str] = []
        # The publisher's deadline: 30 s once ran out in CI, on a loaded machine, with the
        # cause unknown (the failure now says what surveys and a surviving node saw).
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=5) as rpc:
            try:
                eventually(
                    lambda: answers(rpc, seen), 60, "surveys to answer after the kill", interval=0.2
                )
            except AssertionError as exc:
                survivor = next(node for node in NODES if node != leader)
                running = surveys.poll()
                raise AssertionError(
                    f"{exc}\nkilled {leader}; surveys "
                    + ("is running" if running is None else f"exited with {running}")
                    + "; the health RPC said:\n"
                    + "\n".join(seen[-10:])
                    + "\n"
                    + diagnosis(cluster, survivor, log_path, killed_when)
                ) from None

        with connect(database, autocommit=True) as conn:

            def stored() -> dict[str, int]:
                rows = conn.execute(
                    "SELECT submission_id::text AS id, count(*) AS n FROM responses"
                    " GROUP BY submission_id"
                ).fetchall()
                return {r["id"]: r["n"] for r in rows}

            eventually(lambda: set(confirmed) <= set(stored()), 60, "every confirmed one stored")
            counts = stored()
        assert all(counts[sid] == 1 for sid in confirmed)
        assert set(counts) <= set(confirmed) | set(failed)  # nothing stored from nowhere
        print(
            f"killed {leader}; {len(confirmed)} confirmed ({before} before),"
            f" {len(failed)} refused, 100 confirmed within {hundred_in:.1f}s of the kill"
        )
    finally:
        publishing = False
        surveys.terminate()
        try:
            surveys.wait(timeout=30)
        except subprocess.TimeoutExpired:
            surveys.kill()
            surveys.wait()
        log.close()
