"""``./engage up`` supervises what it starts: the real script, on a fresh RabbitMQ vhost,
fresh databases (``ENGAGE_DB_PREFIX``), a free port and a temporary log folder.

Its children (four services, the projections, gunicorn) each run in their own session,
so they are found here as the processes whose parent is ``up`` and that lead a session;
"nothing remains" means no live process is one of them or belongs to one of their
sessions (gunicorn's workers).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engage_common.db import drop_database
from engage_common.testing import eventually

pytestmark = pytest.mark.heavy  # ./engage test runs it beside the rest

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
).rsplit("/", 1)[0]
DATABASE_OWNERS = ("surveys", "feedback", "events", "outcomes", "gateway")
CHILDREN = 6  # surveys, feedback, events, outcomes, projections, gateway


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    session: int
    state: str
    cmdline: str


def processes() -> list[Process]:
    """Every live (not zombie) process, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # it exited while we looked
            continue
        # "pid (comm) state ppid pgrp session ...": comm may itself contain spaces or ")".
        state, ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
        if state != "Z":
            found.append(Process(int(entry.name), int(ppid), int(session), state, cmdline))
    return found


def survivors(children: dict[int, str]) -> list[Process]:
    return [p for p in processes() if p.pid in children or p.session in children]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@dataclass
class Up:
    proc: subprocess.Popen
    port: int
    log_dir: Path
    output_file: Path
    children: dict[int, str] = field(default_factory=dict)  # pid -> command line

    def output(self) -> str:
        return self.output_file.read_text(errors="replace")

    def wait_running(self) -> dict[int, str]:
        """Wait until ``up`` says Engage is running; return its children."""

        def running() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"up exited with {self.proc.returncode}:\n{self.output()}")
            self.children = {
                p.pid: p.cmdline
                for p in processes()
                if p.ppid == self.proc.pid and p.session == p.pid
            }
            return "Engage is running" in self.output() and len(self.children) == CHILDREN

        eventually(running, timeout=90, what="./engage up to say Engage is running")
        return self.children

    def child(self, marker: str) -> int:
        return next(pid for pid, cmdline in self.children.items() if marker in cmdline)

    def exit_status(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"up did not exit within 30 s:\n{self.output()}") from None


# A command started in the background by a script inherits SIGINT ignored, and bash
# cannot trap a signal ignored when it starts: give ``up`` Ctrl-C as a terminal would.
AS_AT_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


@pytest.fixture
def start_up(make_vhost: Callable[[], str], tmp_path: Path) -> Iterator[Callable[..., Up]]:
    """``start_up(**env)`` starts ``./engage up`` on its own vhost, databases and port.
    Afterwards whatever is left of it is killed and its databases are dropped."""
    prefix = f"engage_up{secrets.token_hex(3)}_"
    started: list[Up] = []

    def start(**extra_env: str) -> Up:
        n = len(started)
        log_dir, output_file = tmp_path / f"log{n}", tmp_path / f"up{n}.out"
        port = free_port()
        env = {
            **os.environ,
            "AMQP_URI": make_vhost(),
            "PG_BASE": PG_SERVER,
            "PORT": str(port),
            "ENGAGE_DB_PREFIX": prefix,
            "ENGAGE_LOG_DIR": str(log_dir),
            "ENGAGE_SKIP_BROWSER": "1",
            **extra_env,
        }
        with output_file.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-c", AS_AT_A_TERMINAL, str(ROOT / "engage"), "up"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        up = Up(proc, port, log_dir, output_file)
        started.append(up)
        return up

    yield start
    for up in started:
        if up.proc.poll() is None:
            os.killpg(up.proc.pid, signal.SIGKILL)
            up.proc.wait()
        for p in survivors(up.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
    for owner in DATABASE_OWNERS:
        drop_database(f"{PG_SERVER}/{prefix}{owner}")


def test_a_child_that_dies_is_named_with_its_log_and_up_stops_the_rest(
    start_up: Callable[..., Up],
) -> None:
    up = start_up()
    children = up.wait_running()
    events = up.child("events.service")

    os.kill(events, signal.SIGKILL)

    assert up.exit_status() != 0
    output = up.output()
    assert re.search(r"\bevents\b.*SIGKILL", output), output
    last_logged = (up.log_dir / "events.log").read_text().strip().splitlines()[-1]
    assert last_logged in output
    assert survivors(children) == []


def test_ctrl_c_stops_every_child_even_one_that_ignores_sigterm(
    start_up: Callable[..., Up],
) -> None:
    up = start_up(ENGAGE_STOP_GRACE="2")
    children = up.wait_running()
    assert answers(up.port)
    # A stopped process cannot act on SIGTERM: up must SIGKILL it, and its workers.
    os.kill(up.child("gunicorn"), signal.SIGSTOP)

    up.proc.send_signal(signal.SIGINT)

    assert up.exit_status() == 0
    assert survivors(children) == []
    # The kernel closes a killed process's listening socket as it reaps it: soon, not
    # necessarily before ``up`` has exited (seen once on a busy machine).
    eventually(lambda: not answers(up.port), timeout=15, what="the gateway's port to close")
