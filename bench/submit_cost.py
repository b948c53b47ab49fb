"""Where the gateway's CPU for one submission goes: the submit route's CPU a request, then
again with one part taken away at a time (the request's log line, its metrics, the
security headers, the confirmed publish to RabbitMQ), each cumulative.

    .venv/bin/python bench/submit_cost.py [--requests 1500] > /dev/null

(the figures go to stderr; stdout has the gateway's log lines, one a request.)

Starts the suite as ``run.py`` does (rate limits off), pauses surveys (SIGSTOP) so it
takes no CPU, and sends the submissions through the gateway app in this process (Flask's
test client, one at a time; ``time.process_time``, so the publisher's own thread counts).
The trivial Flask route is measured the same way for comparison. See bench/README.md,
"Sixth round".
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run  # noqa: E402


class _Nothing:
    """A metric that records nothing."""

    def labels(self, *_: object) -> _Nothing:
        return self

    def inc(self, *_: object) -> None:
        pass

    def observe(self, *_: object) -> None:
        pass


def cpu_a_request(label: str, send: Callable[[int], None], n: int, start: int) -> None:
    for i in range(50):  # warm-up
        send(start + n + i)
    began = time.process_time()
    for i in range(n):
        send(start + i)
    seconds = time.process_time() - began
    print(f"{label}: {1000 * seconds / n:.3f} ms of CPU a request", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    n = parser.parse_args().requests
    bench = run.Bench(secrets.token_hex(3))
    logs = run.ROOT / "var" / "bench-logs" / bench.run
    limits = {"RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_READS_PER_MINUTE": "0"}
    suite = None
    try:
        suite = run.start_suite(bench, logs, {"gateway": limits})
        token = suite.token("bench@engage.example", "admin")
        cid = run.open_consultation(suite, token, "Bench: where the submit CPU goes")
        for proc in run.surveys_procs(suite):
            proc.send_signal(signal.SIGSTOP)
        os.environ.update({**suite.env("gateway"), **limits})
        from bench.trivial_app import app as trivial
        from engage_common import confirms
        from gateway import observability
        from gateway.app import create_app

        app = create_app()
        client, make = app.test_client(), run.submit_request(cid)
        body = run.json_post("/trivial", run.answer(0))[2]
        headers = {"Content-Type": "application/json"}
        trivial_client = trivial.test_client()

        def submit(i: int) -> None:
            _, path, data, sent = make(i)
            reply = client.post(path, data=data, headers=sent)
            assert reply.status_code == 202, reply.data

        def post_trivial(i: int) -> None:
            assert trivial_client.post("/trivial", data=body, headers=headers).status_code == 202

        cpu_a_request("trivial Flask route", post_trivial, n, 0)
        cpu_a_request("submit", submit, n, 0)
        logging.getLogger("gateway").setLevel(logging.WARNING)
        cpu_a_request("  without its log line", submit, n, 10**6)
        nothing: Any = _Nothing()
        observability.REQUESTS, observability.LATENCY = nothing, nothing
        cpu_a_request("  and without its metrics", submit, n, 2 * 10**6)
        app.after_request_funcs[None] = [
            f for f in app.after_request_funcs[None] if f.__name__ != "add_security_headers"
        ]
        cpu_a_request("  and without the security headers", submit, n, 3 * 10**6)
        confirms.SharedConfirms.submit = lambda *_, **__: None  # type: ignore[method-assign]
        cpu_a_request("  and without the confirmed publish", submit, n, 4 * 10**6)
    finally:
        for proc in run.surveys_procs(suite) if suite else []:
            proc.send_signal(signal.SIGCONT)
        bench.cleanup()


if __name__ == "__main__":
    main()
