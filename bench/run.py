"""Engage against its ceilings, in one run on this machine (issue 15).

    .venv/bin/python bench/run.py [--smoke] [--out bench/results] [--workers 2]

Starts the whole suite as ``tests/conftest.py`` does (``nameko run`` per service, the
projections, gunicorn for the gateway) on a fresh RabbitMQ vhost and fresh databases,
plus the ceilings' own processes (a nameko echo service, a trivial Flask app under the
gateway's gunicorn settings); measures; prints every figure beside its ceiling as a
ratio; writes ``results.json``, ``results.md`` and ``growth.svg`` to ``--out``; removes
the vhost and databases, also on failure. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import os

os.environ.setdefault("PSYCOPG_IMPL", "python")  # the services' driver, for the DB ceilings

import argparse  # noqa: E402
import http.client  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _load(name: str, path: Path) -> ModuleType:
    """Import a conftest by path: a stray ``tests`` package in site-packages shadows ours."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fixtures = _load("engage_bench_root_conftest", ROOT / "conftest.py")  # databases, vhosts
suites = _load("engage_bench_suite_conftest", ROOT / "tests" / "conftest.py")  # Suite
sys.path.insert(0, str(ROOT))
import amqp  # noqa: E402
from kombu import Connection, Exchange, Queue  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from bench import seed as seeding  # noqa: E402
from engage_common.db import connect, drop_database  # noqa: E402
from engage_common.messaging import SUBMISSIONS_EXCHANGE  # noqa: E402
from engage_common.migrate import migrate  # noqa: E402
from engage_common.testing import eventually  # noqa: E402
from engage_common.vhosts import create_vhost, delete_vhost  # noqa: E402
from engage_contracts.reference import current_consent  # noqa: E402

FULL = {
    "rpc_calls": 2000,
    "rpc_pipelined": 5000,
    "window": 50,
    "publish_one": 3000,
    "publish_batched": 30000,
    "batch": 100,
    "pg_rows": 3000,
    "copy_rows": 100000,
    "http_seconds": 10.0,
    "warm_seconds": 1.5,
    "concurrency": 50,
    "backlog": 2000,
    "fresh_rate": 200,
    "fresh_seconds": 20.0,
    "sizes": [10_000, 100_000, 1_000_000],
    "read_repeats": 20,
    "read_budget": 25.0,  # seconds per route and size, at least 3 timed reads
    "distinct": seeding.DISTINCT,  # distinct free texts a kind, redacted once each
    "seed_workers": 2,  # processes seeding (the machine's cores)
    "files_at_every_size": True,  # the CSV export and the PDF at each size, or the last
}
SMOKE = {  # every measurement, at sizes that only prove it runs (CI: tests/test_bench_smoke.py)
    **FULL,
    "rpc_calls": 30,
    "rpc_pipelined": 100,
    "publish_one": 30,
    "publish_batched": 300,
    "pg_rows": 30,
    "copy_rows": 500,
    "http_seconds": 0.4,
    "warm_seconds": 0.1,
    "backlog": 30,
    "fresh_rate": 50,
    "fresh_seconds": 0.4,
    "sizes": [100, 500],
    "read_repeats": 2,
    "distinct": 20,
    "seed_workers": 1,
    "files_at_every_size": False,
}

CONSENT = {"given": True, "version": current_consent()["version"]}
QUESTIONNAIRE = {
    "questions": [
        {
            "id": "use",
            "type": "single_choice",
            "required": True,
            "text": "Which service did you use?",
            "options": [
                {"value": "gp", "label": "GP"},
                {"value": "pharmacy", "label": "Pharmacy"},
                {"value": "hospital", "label": "Hospital"},
            ],
        },
        {"id": "score", "type": "rating", "text": "Rate it from 0 to 10."},
        {"id": "why", "type": "free_text", "text": "Tell us why."},
    ]
}
SAYINGS = [
    "I waited three weeks for an appointment and nobody called me back.",
    "The staff were kind and explained everything to my mum.",
    "Please keep face to face appointments for people who are not online.",
    "There is no bus to the new clinic from our estate, so I had to get a taxi.",
]
PLACES = ("leeds", "wakefield", "calderdale", None)


def answer(i: int) -> dict[str, Any]:
    """One resident's response body: a choice, a rating and a sentence of free text."""
    return {
        "answers": {
            "use": ("gp", "pharmacy", "hospital")[i % 3],
            "score": i % 11,
            "why": SAYINGS[i % len(SAYINGS)],
        },
        "place": PLACES[i % len(PLACES)],
        "consent": CONSENT,
    }


def queued_submission(cid: str, i: int) -> dict[str, Any]:
    """What the gateway queues on ``surveys.submissions`` for a resident's response."""
    sid = str(uuid.uuid4())
    return {
        "submission_id": sid,
        "receipt_code": f"BENCH-{i:07d}-{sid[:8]}",
        "consultation_id": cid,
        **answer(i),
        "equality": None,
        "submitted_at": datetime.now(UTC).isoformat(),
        "channel": "online",
    }


# -- figures ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Figure:
    section: str
    name: str
    value: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    ceiling: str | None = None  # name of another figure
    target: float | None = None  # ratio to the ceiling, or for latencies the ms limit
    note: str = ""
    ratio: float | None = None


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    growth: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, fig: Figure) -> Figure:
        if fig.ceiling:
            base = self.get(fig.ceiling)
            fig.ratio = fig.value / base.value if base and base.value else None
        self.figures.append(fig)
        line = f"  {fig.name}: {fig.value:,.1f} {fig.unit}"
        if fig.p50_ms is not None:
            line += f" (p50 {fig.p50_ms:.1f} ms, p99 {fig.p99_ms:.1f} ms)"
        if fig.ratio is not None:
            line += f"  = {fig.ratio:.2f} x {fig.ceiling}"
            if fig.target is not None:
                line += f" (target {fig.target:.2f})"
        print(line, flush=True)
        return fig

    def get(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


# -- processes ----------------------------------------------------------------------------


@dataclass
class Bench:
    run: str
    vhosts: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def make_vhost(self) -> str:
        name = f"engage-bench-{self.run}-{len(self.vhosts)}"
        self.vhosts.append(name)
        return create_vhost(name, fixtures.AMQP_BASE)

    def make_database(self, owner: str) -> str:
        url = fixtures.database_url(f"engage_bench_{self.run}_{owner}")
        with self.lock:
            self.databases.append(url)
        migrate(url, fixtures.MIGRATIONS[owner])
        return url

    def spawn(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        # Nothing here is kept: nameko processes are killed (their graceful stop takes
        # seconds), gunicorn gets its quick shutdown (SIGINT; a killed master would
        # leave its workers running).
        for proc in self.procs:
            if proc.poll() is None:
                if "gunicorn" in str(proc.args[0]):
                    proc.send_signal(signal.SIGINT)
                else:
                    proc.kill()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

        def remove(what: Callable[[str], None], name: str) -> None:
            try:
                what(name)
            except Exception as exc:  # keep cleaning the rest
                print(f"could not remove {name}: {exc}", file=sys.stderr)

        with ThreadPoolExecutor(8) as pool:
            for vhost in self.vhosts:
                pool.submit(remove, delete_vhost, vhost)
            for url in self.databases:
                pool.submit(remove, drop_database, url)


def start_suite(
    bench: Bench, logs: Path, overrides: dict[str, dict[str, str]], surveys: int = 1
) -> Any:
    """``tests/conftest.py``'s ``start_suite`` with this run's databases and log folder,
    waiting as the tests do (``Suite.wait_ready``), a little longer; ``surveys``
    processes of the surveys service, sharing its queues (deploy/k8s runs 2 to 4)."""
    owners = (*suites.SERVICES, "gateway")
    with ThreadPoolExecutor(len(owners)) as pool:  # migrations, side by side
        databases = dict(zip(owners, pool.map(bench.make_database, owners), strict=True))
    suite = suites.Suite(
        amqp_uri=bench.make_vhost(),
        databases=databases,
        base_url=f"http://127.0.0.1:{suites.free_port()}",
        overrides=overrides,
        logs=logs,
    )
    for name in suites.PROCESSES:
        suite.start(name)
        bench.procs.append(suite.procs[name])
    for n in range(2, surveys + 1):
        bench.procs.append(suite.procs[suite.start("surveys", instance=str(n))])
    suite.wait_ready(timeout=120)
    return suite


def surveys_procs(suite: Any) -> list[subprocess.Popen]:
    """Every surveys process of the suite (``--surveys``)."""
    return [p for key, p in suite.procs.items() if key.split("-")[0] == "surveys"]


def cpu_seconds(procs: list[subprocess.Popen] | list[int]) -> float:
    """User and system CPU the processes (or pids) have used so far (``/proc/<pid>/stat``)."""
    total = 0.0
    for proc in procs:
        pid = proc if isinstance(proc, int) else proc.pid
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def gunicorn_cmd(port: int, app: str) -> list[str]:
    """The gateway's server settings (``./engage up``, deploy/k8s, tests/conftest.py)."""
    return [
        str(BIN / "gunicorn"),
        "-k",
        "gthread",
        "--threads",
        "8",
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "10",
        app,
    ]


# -- the load client ----------------------------------------------------------------------


@dataclass
class Load:
    done: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return rate(self.done, self.seconds)


def http_load(
    base_url: str,
    request: Callable[[int], tuple[str, str, bytes | None, dict[str, str]]],
    concurrency: int,
    seconds: float,
    warm_seconds: float = 0.0,
    expect: int = 200,
    pace: float | None = None,
    on_done: Callable[[int, float], None] | None = None,
) -> Load:
    """``concurrency`` threads, each on its own keep-alive connection, send
    ``request(i)`` (method, path, body, headers) for ``seconds`` after ``warm_seconds``
    of warm-up (not counted). With ``pace`` (requests/s), request ``i`` is sent no
    earlier than ``i / pace`` s after the start. ``on_done(i, t)`` is told when each
    counted request was answered with ``expect``."""
    host, port = base_url.split("//", 1)[1].split(":")
    lock = threading.Lock()
    counter = iter(range(10**12))
    latencies: list[float] = []
    done = errors = 0
    start = time.perf_counter()
    measure_from = start + warm_seconds
    stop_at = measure_from + seconds
    first_error: list[str] = []

    def worker() -> None:
        nonlocal done, errors
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                i = next(counter)
            if pace is not None:
                due = start + i / pace
                if due >= stop_at:
                    break
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)  # pacing the offered load, not waiting for a result
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            method, path, body, headers = request(i)
            try:
                conn.request(method, path, body=body, headers=headers)
                reply = conn.getresponse()
                payload = reply.read()
                ok = reply.status == expect
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                ok, payload = False, repr(exc).encode()
            t1 = time.perf_counter()
            if t0 < measure_from:
                continue
            with lock:
                if ok:
                    done += 1
                    latencies.append((t1 - t0) * 1000)
                else:
                    errors += 1
                    if not first_error:
                        first_error.append(payload[:300].decode(errors="replace"))
            if ok and on_done:
                on_done(i, t1)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = min(time.perf_counter(), max(stop_at, time.perf_counter())) - measure_from
    if first_error:
        print(f"    ({errors} errors; first: {first_error[0]!r})", flush=True)
    return Load(done, errors, elapsed, latencies)


def json_post(path: str, body: dict[str, Any], **headers: str) -> tuple[str, str, bytes, dict]:
    return "POST", path, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}


# -- 1. ceilings --------------------------------------------------------------------------


def ceiling_rpc(res: Results, amqp_uri: str, p: dict[str, Any]) -> None:
    payload = queued_submission(str(uuid.uuid4()), 0)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=30) as cluster:
        eventually(lambda: cluster.bench_echo.echo(1) == 1, 60, "the echo service")
        for _ in range(30):
            cluster.bench_echo.echo(payload)
        timings = []
        t = time.perf_counter()
        for _ in range(p["rpc_calls"]):
            t0 = time.perf_counter()
            cluster.bench_echo.echo(payload)
            timings.append((time.perf_counter() - t0) * 1000)
        seq = time.perf_counter() - t
        res.add(
            Figure(
                "1 ceilings",
                "nameko RPC echo, one at a time",
                rate(p["rpc_calls"], seq),
                "calls/s",
                pct(timings, 0.5),
                pct(timings, 0.99),
            )
        )
        total, window = p["rpc_pipelined"], p["window"]
        t = time.perf_counter()
        for start in range(0, total, window):
            replies = [
                cluster.bench_echo.echo.call_async(payload)
                for _ in range(min(window, total - start))
            ]
            for reply in replies:
                reply.result()
        res.add(
            Figure(
                "1 ceilings",
                f"nameko RPC echo, pipelined ({window} in flight)",
                rate(total, time.perf_counter() - t),
                "calls/s",
            )
        )


def ceiling_publish(res: Results, amqp_uri: str, p: dict[str, Any]) -> None:
    exchange = Exchange("bench.ceiling", type="direct", durable=True)
    queue = Queue("bench.ceiling", exchange=exchange, routing_key="bench", durable=True)
    body = json.dumps(queued_submission(str(uuid.uuid4()), 0))
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        queue(conn.default_channel).declare()
        producer = conn.Producer(serializer="json")
        n = p["publish_one"]
        timings = []
        t = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            producer.publish(
                body,
                exchange=exchange,
                routing_key="bench",
                delivery_mode=2,
                mandatory=True,
                content_type="application/json",
                content_encoding="utf-8",
            )
            timings.append((time.perf_counter() - t0) * 1000)
        res.add(
            Figure(
                "1 ceilings",
                "kombu persistent publish, confirmed one by one",
                rate(n, time.perf_counter() - t),
                "msgs/s",
                pct(timings, 0.5),
                pct(timings, 0.99),
            )
        )
        queue(conn.default_channel).purge()
    # Confirms batched: py-amqp (kombu's transport) in confirm mode, publishing a batch and
    # then waiting for the broker's acks (basic.ack, possibly ``multiple``) of all of it.
    n, batch = p["publish_batched"], p["batch"]
    host = amqp_uri.split("@", 1)[1].split("/", 1)[0]
    vhost = amqp_uri.split("@", 1)[1].split("/", 1)[1] or "/"
    with amqp.Connection(host=host, userid="guest", password="guest", virtual_host=vhost) as c:
        c.connect()
        ch = c.channel()
        ch.confirm_select()
        acked = [0]

        def on_ack(delivery_tag: int, multiple: bool) -> None:
            acked[0] = max(acked[0], delivery_tag) if multiple else acked[0] + 1

        ch.events["basic_ack"].add(on_ack)
        message = amqp.Message(body, delivery_mode=2, content_type="application/json")
        t = time.perf_counter()
        sent = 0
        while sent < n:
            for _ in range(min(batch, n - sent)):
                ch.basic_publish(message, exchange="bench.ceiling", routing_key="bench")
                sent += 1
            while acked[0] < sent:
                c.drain_events(timeout=30)
        res.add(
            Figure(
                "1 ceilings",
                f"raw AMQP persistent publish, confirms batched ({batch})",
                rate(n, time.perf_counter() - t),
                "msgs/s",
            )
        )
        ch.queue_delete("bench.ceiling")


def response_row(cid: str, i: int) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    s = queued_submission(cid, i)
    return (
        s["submission_id"],
        s["receipt_code"],
        cid,
        Jsonb(s["answers"]),
        s["place"],
        Jsonb(s["consent"]),
        s["submitted_at"],
        "online",
        Jsonb({"why": s["answers"]["why"]}),
        Jsonb({"why": []}),
        "bench",
    )


COLUMNS = (
    "submission_id, receipt_code, consultation_id, answers, place, consent, submitted_at,"
    " channel, redacted_answers, redactions, redactor_version"
)
INSERT = f"INSERT INTO bench_responses ({COLUMNS}) VALUES ({', '.join(['%s'] * 11)})"


def ceiling_postgres(res: Results, url: str, p: dict[str, Any]) -> None:
    """A table shaped like surveys' ``responses`` (same columns and indexes, no foreign
    key) in surveys' own database, written with the services' driver."""
    cid = str(uuid.uuid4())
    with connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_responses")
        conn.execute(
            "CREATE TABLE bench_responses (LIKE responses INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
    try:
        with connect(url) as conn:
            n = p["pg_rows"]
            rows = [response_row(cid, i) for i in range(n)]
            t = time.perf_counter()
            timings = []
            for row in rows:
                t0 = time.perf_counter()
                conn.execute(INSERT, row)
                conn.commit()
                timings.append((time.perf_counter() - t0) * 1000)
            res.add(
                Figure(
                    "1 ceilings",
                    "PostgreSQL INSERT of a response row, a transaction each",
                    rate(n, time.perf_counter() - t),
                    "rows/s",
                    pct(timings, 0.5),
                    pct(timings, 0.99),
                )
            )
            batch = p["batch"]
            rows = [response_row(cid, i) for i in range(max(n, 10 * batch))]
            t = time.perf_counter()
            for start in range(0, len(rows), batch):
                with conn.cursor() as cur:
                    cur.executemany(INSERT, rows[start : start + batch])
                conn.commit()
            res.add(
                Figure(
                    "1 ceilings",
                    f"PostgreSQL batched INSERT, {batch} rows a transaction",
                    rate(len(rows), time.perf_counter() - t),
                    "rows/s",
                )
            )
            n = p["copy_rows"]
            t = time.perf_counter()
            copy = f"COPY bench_responses ({COLUMNS}) FROM STDIN"
            with conn.cursor() as cur, cur.copy(copy) as cp:
                for i in range(n):
                    cp.write_row(response_row(cid, i))
            conn.commit()
            res.add(
                Figure(
                    "1 ceilings",
                    "PostgreSQL COPY of response rows",
                    rate(n, time.perf_counter() - t),
                    "rows/s",
                )
            )
    finally:
        with connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_responses")


def ceiling_http(
    res: Results,
    trivial: subprocess.Popen,
    trivial_url: str,
    gateway_url: str,
    p: dict[str, Any],
    conc: int,
) -> None:
    body = answer(0)
    pids = [trivial.pid, *_children(trivial.pid)]
    cpu = cpu_seconds(pids)
    load = http_load(
        trivial_url,
        lambda i: json_post("/trivial", body),
        conc,
        p["http_seconds"],
        p["warm_seconds"],
        expect=202,
    )
    res.add(
        Figure(
            "1 ceilings",
            f"trivial Flask route, same gunicorn settings, {conc} clients",
            load.per_second,
            "req/s",
            pct(load.latencies_ms, 0.5),
            pct(load.latencies_ms, 0.99),
            note=f"server CPU {cpu_ms(cpu_seconds(pids) - cpu, load)} ms a request",
        )
    )
    load = http_load(
        gateway_url,
        lambda i: ("GET", "/healthz", None, {}),
        conc,
        p["http_seconds"] / 2,
        p["warm_seconds"],
    )
    res.add(
        Figure(
            "1 ceilings",
            f"gateway GET /healthz, {conc} clients",
            load.per_second,
            "req/s",
            pct(load.latencies_ms, 0.5),
            pct(load.latencies_ms, 0.99),
            ceiling=f"trivial Flask route, same gunicorn settings, {conc} clients",
            note="the gateway's own middleware on the cheapest route",
        )
    )


# -- the suite's figures -------------------------------------------------------------------


def open_consultation(suite: Any, token: str, title: str) -> str:
    now = datetime.now(UTC)
    r = suite.api(
        "POST",
        "/staff/consultations",
        token,
        json={
            "title": title,
            "summary": "Tell us.",
            "description": "Tell us more.",
            "places": ["leeds", "wakefield", "calderdale"],
            "priorities": ["living-well"],
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=30)).isoformat(),
            "questionnaire": QUESTIONNAIRE,
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = suite.api("POST", f"/staff/consultations/{cid}/open", token)
    assert r.status_code == 200, r.text
    return cid


def stored(suite: Any, cid: str) -> int:
    with connect(suite.databases["surveys"]) as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM responses WHERE consultation_id = %s", (cid,)
        ).fetchone()["n"]


def settled(suite: Any, cid: str) -> bool:
    """Surveys' outbox is empty and the read model counts every response stored."""
    with connect(suite.databases["surveys"]) as conn:
        pending = conn.execute(
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
        ).fetchone()["n"]
    with connect(suite.databases["gateway"]) as conn:
        return pending == 0 and counted(conn, cid) >= stored(suite, cid)


def counted(conn: Any, cid: str) -> int:
    row = conn.execute(
        "SELECT response_count FROM consultation_summaries WHERE id = %s", (cid,)
    ).fetchone()
    return row["response_count"] if row else 0


def submit_request(cid: str) -> Callable[[int], tuple[str, str, bytes, dict]]:
    run = uuid.uuid4().hex[:8]
    return lambda i: json_post(
        f"/api/v1/consultations/{cid}/responses", answer(i), **{"Idempotency-Key": f"{run}-{i}"}
    )


def accept(res: Results, suite: Any, cid: str, p: dict[str, Any], conc: int) -> int:
    """The submit route under ``conc`` clients twice: with surveys paused (SIGSTOP), so
    the gateway has the cores the trivial route had (in production surveys stores on
    cores of its own), and again while surveys stores what comes in on the same two
    cores. Returns how many were accepted in all."""
    trivial = f"trivial Flask route, same gunicorn settings, {conc} clients"
    gateway = [suite.procs["gateway"].pid, *_children(suite.procs["gateway"].pid)]
    procs = surveys_procs(suite)
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        load, cpu = submitting(suite, cid, p, conc, gateway)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
    res.add(
        Figure(
            "2 accepting",
            f"POST /api/v1/consultations/<id>/responses, {conc} clients (storing paused)",
            load.per_second,
            "responses/s",
            pct(load.latencies_ms, 0.5),
            pct(load.latencies_ms, 0.99),
            ceiling=trivial,
            target=0.7,
            note=f"{load.errors} errors; gateway CPU {cpu_ms(cpu, load)} ms a request",
        )
    )
    for ceiling in (
        "kombu persistent publish, confirmed one by one",
        f"raw AMQP persistent publish, confirms batched ({p['batch']})",
    ):
        res.add(
            Figure(
                "2 accepting",
                f"accepted responses/s vs {ceiling.split(',')[0].split(' persistent')[0]} "
                f"({ceiling.split(', ')[-1]})",
                load.per_second,
                "responses/s",
                ceiling=ceiling,
            )
        )
    eventually(lambda: stored(suite, cid) >= load.done, 600, "surveys to store", interval=0.1)
    shared, cpu = submitting(suite, cid, p, conc, gateway)
    res.add(
        Figure(
            "2 accepting",
            f"the same while surveys stores them on the same cores, {conc} clients",
            shared.per_second,
            "responses/s",
            pct(shared.latencies_ms, 0.5),
            pct(shared.latencies_ms, 0.99),
            ceiling=trivial,
            note=f"{shared.errors} errors; gateway CPU {cpu_ms(cpu, shared)} ms a request",
        )
    )
    return load.done + shared.done


def submitting(
    suite: Any, cid: str, p: dict[str, Any], conc: int, gateway: list[int]
) -> tuple[Load, float]:
    """The submit route under ``conc`` clients, and the CPU seconds the gateway used."""
    cpu = cpu_seconds(gateway)
    load = http_load(
        suite.base_url, submit_request(cid), conc, p["http_seconds"], p["warm_seconds"], 202
    )
    return load, cpu_seconds(gateway) - cpu


def cpu_ms(seconds: float, load: Load) -> float:
    """CPU a counted request, in ms (the warm-up's share is counted too, so it errs high)."""
    return round(seconds * 1000 / max(load.done + load.errors, 1), 2)


def drain(res: Results, suite: Any, cid: str, p: dict[str, Any]) -> None:
    """Surveys paused (SIGSTOP), ``backlog`` submissions queued as the gateway queues
    them, surveys resumed: time until every one is stored."""
    n = p["backlog"]
    procs = surveys_procs(suite)
    before = stored(suite, cid)
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        host = suite.amqp_uri.split("@", 1)[1].split("/", 1)[0]
        vhost = suite.amqp_uri.split("@", 1)[1].split("/", 1)[1] or "/"
        with amqp.Connection(host=host, userid="guest", password="guest", virtual_host=vhost) as c:
            c.connect()
            ch = c.channel()
            ch.confirm_select()
            acked = [0]

            def on_ack(tag: int, multiple: bool) -> None:
                acked[0] = max(acked[0], tag) if multiple else acked[0] + 1

            ch.events["basic_ack"].add(on_ack)
            for i in range(n):
                s = queued_submission(cid, i)
                msg = amqp.Message(
                    json.dumps(s),
                    delivery_mode=2,
                    content_type="application/json",
                    content_encoding="utf-8",
                    message_id=s["submission_id"],
                )
                ch.basic_publish(msg, exchange=SUBMISSIONS_EXCHANGE.name, routing_key="surveys")
            while acked[0] < n:
                c.drain_events(timeout=30)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
    t, cpu = time.perf_counter(), cpu_seconds(procs)
    eventually(lambda: stored(suite, cid) >= before + n, 600, "surveys to drain", interval=0.02)
    seconds = time.perf_counter() - t
    cpu_ms = (cpu_seconds(procs) - cpu) * 1000 / n
    for ceiling in (
        f"PostgreSQL batched INSERT, {p['batch']} rows a transaction",
        "PostgreSQL INSERT of a response row, a transaction each",
    ):
        res.add(
            Figure(
                "3 storing",
                f"surveys drains {n} queued submissions vs "
                + ("batched INSERT" if "batched" in ceiling else "INSERT a transaction each"),
                rate(n, seconds),
                "responses/s",
                ceiling=ceiling,
                target=0.8 if "batched" in ceiling else None,
                note=f"{len(procs)} surveys process(es), {cpu_ms:.2f} ms of their CPU a response",
            )
        )


def freshness(res: Results, suite: Any, cid: str, p: dict[str, Any], conc: int) -> None:
    """``fresh_rate`` submissions a second; each one's time from its 202 to the read
    model's count reaching it (the k-th accepted is counted when the count reaches k)."""
    accepted: list[float] = []
    lock = threading.Lock()
    polls: list[tuple[float, int]] = []
    stop = threading.Event()
    with connect(suite.databases["gateway"], autocommit=True) as conn:
        base = counted(conn, cid)

        def poll() -> None:
            with connect(suite.databases["gateway"], autocommit=True) as c:
                while not stop.is_set():
                    polls.append((time.perf_counter(), counted(c, cid)))
                    time.sleep(0.005)  # poll period, the resolution of the figure

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        stages: list[tuple[int, int, int, int]] = []  # accepted, stored, unpublished, counted

        def stage() -> None:
            """Where the lag is: every 0.25 s, how many were accepted, stored by surveys,
            stored but not yet published by its outbox relay, counted by the read model."""
            with connect(suite.databases["surveys"], autocommit=True) as c:
                while not stop.wait(0.25):
                    got = c.execute(
                        "SELECT (SELECT count(*) FROM responses WHERE consultation_id = %s) AS s,"
                        " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS u",
                        (cid,),
                    ).fetchone()
                    counted_now = polls[-1][1] - base if polls else 0
                    stages.append((len(accepted), got["s"], got["u"], counted_now))

        stager = threading.Thread(target=stage, daemon=True)
        stager.start()
        procs = surveys_procs(suite)
        cpu = cpu_seconds(procs)

        def on_done(i: int, t: float) -> None:
            with lock:
                accepted.append(t)

        load = http_load(
            suite.base_url,
            submit_request(cid),
            conc,
            p["fresh_seconds"],
            0.0,
            202,
            pace=p["fresh_rate"],
            on_done=on_done,
        )
        total = base + load.done + load.errors  # an error may still have been queued
        try:
            eventually(
                lambda: polls and polls[-1][1] >= base + load.done,
                300,
                "the read model to count every accepted response",
                interval=0.02,
            )
        finally:
            stop.set()
            poller.join()
            stager.join()
    cpu_ms = (cpu_seconds(procs) - cpu) * 1000 / max(1, load.done)
    del total
    accepted.sort()
    lags = []
    j = 0
    for k, t_acc in enumerate(accepted, start=1):
        while polls[j][1] < base + k:
            j += 1
        lags.append(max(0.0, polls[j][0] - t_acc) * 1000)
    res.add(
        Figure(
            "6 freshness",
            f"accepted -> counted in the read model at {load.per_second:.0f} responses/s offered"
            f" {p['fresh_rate']}/s",
            pct(lags, 0.99),
            "ms p99",
            pct(lags, 0.5),
            pct(lags, 0.99),
            target=1000,
            note=f"max {max(lags):.0f} ms over {len(lags)} responses; largest backlogs:"
            f" {max((a - st for a, st, _, _ in stages), default=0)} accepted not stored,"
            f" {max((u for _, _, u, _ in stages), default=0)} stored not published,"
            f" {max((st - u - c for _, st, u, c in stages), default=0)} published not counted;"
            f" {len(procs)} surveys process(es), {cpu_ms:.2f} ms of their CPU a response",
        )
    )


# -- 4/5/7. seeding and reads at scale -------------------------------------------------------


def seed_to(res: Results, suite: Any, cid: str, have: int, size: int, p: dict[str, Any]) -> None:
    """``bench/seed.py`` from ``have`` to ``size`` responses (a fifth as many feedback
    items, a fiftieth as many event points), then the read model rebuilt from every event
    (``rebuild-read-models --swap``, the projections left running: nothing else is sent
    meanwhile)."""
    urls = {o: suite.databases[o] for o in ("surveys", "feedback", "events")}
    n, fb, pts = size - have, size // 5 - have // 5, size // 50 - have // 50
    done = seeding.seed(
        urls, cid, n, fb, pts, p["seed_workers"], distinct=p["distinct"], offset=have, say=print
    )
    print(f"    {done}", flush=True)
    res.add(
        Figure(
            "4 seeding",
            f"seed {have:,} -> {size:,} responses, {fb:,} feedback items, {pts:,} event points",
            done.seconds["total"],
            "s",
            target=120 * n / 1_000_000,
            note="; ".join(f"{k} {v:.1f} s" for k, v in done.seconds.items())
            + f"; {rate(n, done.seconds['total']):,.0f} responses/s"
            + " (target: 1M responses, 200k feedback, 20k points in 120 s)",
        )
    )
    seconds, report = seeding.rebuild_read_model(suite.databases["gateway"], suite.amqp_uri)
    events = sum(report.events.values())
    res.add(
        Figure(
            "4 seeding",
            f"rebuild the read model from {events:,} events at {size:,} responses",
            seconds,
            "s",
            note=f"{rate(events, seconds):,.0f} events/s; "
            + ", ".join(f"{t} {b:,}" for t, (_, b) in report.rows.items() if b),
        )
    )
    with connect(suite.databases["gateway"]) as conn:
        assert counted(conn, cid) == size, "the rebuilt read model counts every response"


def reads_at(res: Results, suite: Any, token: str, cid: str, size: int, p: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    # A period of part-days: its whole days read from the counts, its ends from the rows.
    since = quote((datetime.now(UTC) - timedelta(days=45)).replace(hour=9).isoformat())
    routes = {
        "results": f"/api/v1/staff/consultations/{cid}/results",
        "results, place filter": f"/api/v1/staff/consultations/{cid}/results?place=leeds",
        "results, equality filter": f"/api/v1/staff/consultations/{cid}/results?age_band=25-34",
        "feedback search": "/api/v1/staff/feedback?q=appointment",
        "you said, we did": "/api/v1/you-said-we-did",
        "you said, we did: themes page": "/you-said-we-did/themes",
        "staff dashboard": "/api/v1/staff/dashboard",
        "you said, we did summary, since 09:00": f"/api/v1/you-said-we-did/summary?since={since}",
        "reach, since 09:00": f"/api/v1/staff/reach?since={since}",
    }
    row: dict[str, Any] = {"responses": size, "feedback items": size // 5}
    for name, path in routes.items():
        timings = []
        session_host = suite.base_url.split("//", 1)[1]
        conn = http.client.HTTPConnection(*session_host.split(":"), timeout=120)
        began = time.perf_counter()
        failed = None
        for k in range(p["read_repeats"] + 1):
            if k > 3 and time.perf_counter() - began > p["read_budget"]:
                break
            t0 = time.perf_counter()
            conn.request("GET", path, headers=auth)
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:  # e.g. 503: the service did not answer in RPC_TIMEOUT
                failed = (reply.status, (time.perf_counter() - t0) * 1000)
                break
            if k:  # the first one warms caches
                timings.append((time.perf_counter() - t0) * 1000)
        conn.close()
        if failed:
            status, after = failed
            row[name] = {"p50_ms": None, "p95_ms": None, "status": status, "after_ms": after}
            res.add(
                Figure(
                    "7 growth",
                    f"GET {name} at {size:,} responses: {status}",
                    after,
                    f"ms until {status}",
                    target=100,
                    note=f"answered {status}, not 200 (the gateway's RPC_TIMEOUT)",
                )
            )
            # The gateway fails fast after a timeout until the service answers again.
            owner = {"results": "surveys", "feedback search": "feedback"}.get(name.split(",")[0])
            if owner:
                suite.gateway_sees(owner, timeout=300)
            continue
        row[name] = {"p50_ms": pct(timings, 0.5), "p95_ms": pct(timings, 0.95)}
        res.add(
            Figure(
                "7 growth",
                f"GET {name} at {size:,} responses",
                pct(timings, 0.95),
                "ms p95",
                pct(timings, 0.5),
                pct(timings, 0.99),
                target=100,
            )
        )
    res.growth.append(row)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mb(pid: int, key: str = "VmRSS") -> float:
    """A process's resident memory now (``VmRSS``) or at its peak (``VmHWM``), in MB."""
    try:
        for text in Path(f"/proc/{pid}/status").read_text().splitlines():
            if text.startswith(key + ":"):
                return int(text.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def peak_rss(pids: dict[str, list[int]], every: float = 0.02) -> Iterator[dict[str, float]]:
    """The largest resident memory of each group of processes while the block runs
    (sampled every ``every`` s: ``VmHWM`` would include what came before)."""
    peaks = {n: max((_rss_mb(pid) for pid in group), default=0.0) for n, group in pids.items()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            for name, group in pids.items():
                peaks[name] = max(peaks[name], *(_rss_mb(pid) for pid in group))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


def download(suite: Any, token: str, path: str) -> tuple[int, int, float]:
    """GET ``path`` to the end: (status, bytes, seconds)."""
    host, port = suite.base_url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    reply = conn.getresponse()
    size = 0
    while chunk := reply.read(1 << 20):
        size += len(chunk)
    conn.close()
    return reply.status, size, time.perf_counter() - t


def files_at(res: Results, suite: Any, token: str, cid: str, size: int) -> None:
    """Item 5's files: the CSV export of every response, with the peak resident memory of
    the gateway's workers and of surveys while it streams; the board paper PDF."""
    pids = {
        "gateway worker": _children(suite.procs["gateway"].pid),
        "surveys": [suite.procs["surveys"].pid],
    }
    with peak_rss(pids) as peaks:
        before = dict(peaks)
        status, nbytes, seconds = download(
            suite, token, f"/api/v1/staff/consultations/{cid}/responses.csv"
        )
    assert status == 200, f"the export answered {status}"
    res.add(
        Figure(
            "5 reads at scale",
            f"CSV export of {size:,} responses",
            seconds,
            "s",
            target=30 * size / 1_000_000,
            note=f"{nbytes / 1e6:,.0f} MB, {rate(size, seconds):,.0f} rows/s (target: 1M in 30 s)",
        )
    )
    for name, peak in peaks.items():
        res.add(
            Figure(
                "5 reads at scale",
                f"peak resident memory of {name} during the export at {size:,}",
                peak,
                "MB",
                target=200,
                note=f"{before[name]:.0f} MB before it",
            )
        )
    status, nbytes, seconds = download(suite, token, "/api/v1/staff/reports/board-paper.pdf")
    assert status == 200, f"the board paper answered {status}"
    res.add(
        Figure(
            "5 reads at scale",
            f"board paper PDF at {size:,} responses",
            seconds,
            "s",
            target=10,
            note=f"{nbytes / 1e3:,.0f} kB",
        )
    )


# -- output ---------------------------------------------------------------------------------


def markdown(res: Results) -> str:
    lines = [
        f"Run {res.meta['started']} on {res.meta['machine']}: `{res.meta['command']}`"
        f" ({res.meta['seconds']} s; gunicorn workers: {res.meta['workers']}; load average"
        f" {res.meta['load_average_at_start'][0]:.1f} at start,"
        f" {res.meta['load_average_at_end'][0]:.1f} at end)",
        "",
        "| section | figure | value | p50 ms | p99 ms | ceiling | ratio | target |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for f in res.figures:

        def ms(v: float | None) -> str:
            return "" if v is None else f"{v:.1f}"

        lines.append(
            f"| {f.section} | {f.name} | {f.value:,.1f} {f.unit} | {ms(f.p50_ms)} | "
            f"{ms(f.p99_ms)} | {f.ceiling or ''} | "
            f"{'' if f.ratio is None else f'{f.ratio:.2f}'} | "
            f"{'' if f.target is None else f.target} |"
        )
    if res.growth:
        names = read_names(res)
        lines += [
            "",
            "How read latency grows (p95 ms):",
            "",
            "| responses | feedback items | " + " | ".join(names) + " |",
            "|---:|---:|" + "---:|" * len(names),
        ]
        for row in res.growth:
            cells = " | ".join(
                f"{row[n]['status']} after {row[n]['after_ms']:,.0f} ms"
                if row[n]["p95_ms"] is None
                else f"{row[n]['p95_ms']:.1f}"
                for n in names
            )
            lines.append(f"| {row['responses']:,} | {row['feedback items']:,} | {cells} |")
    return "\n".join(lines) + "\n"


def read_names(res: Results) -> list[str]:
    return [k for k in res.growth[0] if k not in ("responses", "feedback items")]


def chart(res: Results, path: Path) -> None:
    """p95 against responses stored, one line per route; sizes evenly spaced (each a
    tenfold step), so flat stays flat and linear growth bends up."""
    import pygal

    plot = pygal.Line(
        title="Read latency (p95, ms) as responses grow",
        x_title="responses stored (feedback items: a fifth as many)",
        y_title="p95 ms",
        dots_size=4,
    )
    plot.x_labels = [f"{row['responses']:,}" for row in res.growth]
    for name in read_names(res) if res.growth else []:
        plot.add(name, [row[name]["p95_ms"] for row in res.growth])
    path.write_bytes(plot.render())


# -- main -----------------------------------------------------------------------------------


@contextmanager
def step(name: str) -> Iterator[None]:
    print(f"{name} ...", flush=True)
    t = time.perf_counter()
    yield
    print(f"  ({time.perf_counter() - t:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it all runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY), both apps"
    )
    parser.add_argument("--sizes", type=str, default="", help="e.g. 10000,100000,1000000")
    parser.add_argument("--profile", action="store_true", help="cProfile the submit path")
    parser.add_argument(
        "--surveys",
        type=int,
        default=1,
        help="surveys processes sharing its queue (./engage up runs 1, deploy/k8s 2 to 4)",
    )
    parser.add_argument(
        "--sections",
        default="suite,scale",
        help="suite (1-3, 6: ceilings, accepting, storing, freshness), freshness (6 alone),"
        " scale (4, 5, 7)",
    )
    args = parser.parse_args(argv)
    p = dict(SMOKE if args.smoke else FULL)
    if args.sizes:
        p["sizes"] = [int(s) for s in args.sizes.split(",")]
    conc = p["concurrency"]
    began = time.perf_counter()
    res = Results(
        meta={
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.python_version()})",
            "command": " ".join([".venv/bin/python", "bench/run.py", *(argv or sys.argv[1:])]),
            "params": p,
            "workers": args.workers,
            "surveys_processes": args.surveys,
            "load_average_at_start": os.getloadavg(),
        }
    )
    bench = Bench(secrets.token_hex(3))
    # Stopped with SIGTERM (or Ctrl-C), it still removes what it made (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logs = ROOT / "var" / "bench-logs" / bench.run
    try:
        with step("starting the suite and the ceilings' processes"):
            env = {**os.environ, "WEB_CONCURRENCY": str(args.workers)}
            trivial_port = suites.free_port()
            trivial_proc = bench.spawn(
                gunicorn_cmd(trivial_port, "bench.trivial_app:app"), env, logs / "trivial.log"
            )
            echo_uri = bench.make_vhost()
            bench.spawn(
                [str(BIN / "nameko"), "run", "--config", "bench/echo.yaml", "bench.echo_service"],
                {**env, "AMQP_URI": echo_uri},
                logs / "echo.log",
            )
            gateway_env = {
                "RPC_TIMEOUT": "5",  # the gateway's default (tests/conftest.py says 3)
                "RATE_LIMIT_PER_MINUTE": "0",
                "RATE_LIMIT_READS_PER_MINUTE": "0",
                "WEB_CONCURRENCY": str(args.workers),
            }
            suite = start_suite(bench, logs, {"gateway": gateway_env}, args.surveys)
            token_box: list[str] = []
            token_thread = threading.Thread(
                target=lambda: token_box.append(suite.token("bench@engage.example", "admin"))
            )
            token_thread.start()
            trivial_url = f"http://127.0.0.1:{trivial_port}"
            eventually(lambda: _answers(trivial_url), 60, "the trivial app", interval=0.1)
        token_thread.join()
        token = token_box[0]
        if "suite" in args.sections:
            print("1. ceilings")
            with step("  RPC"):
                ceiling_rpc(res, echo_uri, p)
            with step("  publish"):
                ceiling_publish(res, suite.amqp_uri, p)
            with step("  PostgreSQL"):
                ceiling_postgres(res, suite.databases["surveys"], p)
            with step("  HTTP"):
                ceiling_http(res, trivial_proc, trivial_url, suite.base_url, p, conc)
            cid = open_consultation(suite, token, "Bench: accepting and storing")
            print("2. accepting")
            with step("  submit"):
                done = accept(res, suite, cid, p, conc)
            with step("  surveys catches up with what was accepted"):
                eventually(
                    lambda: stored(suite, cid) >= done, 600, "surveys to store", interval=0.1
                )
            if args.profile:
                with step("  profile of the submit path (cProfile, in this process)"):
                    profile_submit(suite, cid, args.out)
            print("3. storing")
            with step("  drain"):
                drain(res, suite, cid, p)
            # Freshness is measured from a standing start, not while the read model is
            # still counting the tens of thousands accepted above.
            with step("  the read model counts all of them"):
                eventually(lambda: settled(suite, cid), 600, "the read model", interval=0.1)
        if "suite" in args.sections or "freshness" in args.sections:
            print("6. freshness")
            fresh_cid = open_consultation(suite, token, "Bench: freshness")
            with step("  freshness"):
                freshness(res, suite, fresh_cid, p, conc)
        if "scale" in args.sections:
            print("4/5/7. seeding and reads as responses grow")
            grow_cid = open_consultation(suite, token, "Bench: at scale")
            have = 0
            for size in p["sizes"]:
                with step(f"  seeding to {size:,} responses (bench/seed.py)"):
                    seed_to(res, suite, grow_cid, have, size, p)
                    have = size
                with step(f"  reads at {size:,}"):
                    reads_at(res, suite, token, grow_cid, size, p)
                if p["files_at_every_size"] or size == p["sizes"][-1]:
                    with step(f"  CSV export and board paper PDF at {size:,}"):
                        files_at(res, suite, token, grow_cid, size)
    finally:
        with step("stopping and cleaning up"):
            bench.cleanup()
    res.meta["seconds"] = round(time.perf_counter() - began, 1)
    res.meta["load_average_at_end"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "meta": res.meta,
                "figures": [f.__dict__ for f in res.figures],
                "growth": res.growth,
            },
            indent=2,
        )
    )
    (args.out / "results.md").write_text(markdown(res))
    chart(res, args.out / "growth.svg")
    print(f"wrote {args.out}/results.json, results.md, growth.svg in {res.meta['seconds']} s")
    return 0


def _answers(url: str) -> bool:
    try:
        host, port = url.split("//", 1)[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("POST", "/trivial", body=b"{}", headers={"Content-Type": "application/json"})
        return conn.getresponse().status == 202
    except OSError:
        return False


def profile_submit(suite: Any, cid: str, out: Path) -> None:
    """The gateway app in this process (its own env), 300 submissions through Flask's test
    client under cProfile; top functions by cumulative time to ``out/submit-profile.txt``."""
    import cProfile
    import io
    import pstats

    saved = dict(os.environ)
    os.environ.update(suite.env("gateway"))
    os.environ.update({"RATE_LIMIT_PER_MINUTE": "0"})
    try:
        from gateway.app import create_app

        client = create_app().test_client()
        make = submit_request(cid)
        for i in range(20):
            _, path, body, headers = make(10**9 + i)
            client.post(path, data=body, headers=headers)
        prof = cProfile.Profile()
        prof.enable()
        for i in range(300):
            _, path, body, headers = make(i)
            client.post(path, data=body, headers=headers)
        prof.disable()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(45)
        out.mkdir(parents=True, exist_ok=True)
        (out / "submit-profile.txt").write_text(text.getvalue())
    finally:
        os.environ.clear()
        os.environ.update(saved)


if __name__ == "__main__":
    sys.exit(main())
