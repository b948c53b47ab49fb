"""The database driver must stay cooperative under eventlet (see db.py)."""

from __future__ import annotations

import time

import eventlet
import psycopg

from engage_common.db import Pool, connect


def test_pure_python_implementation_is_in_use() -> None:
    assert psycopg.pq.__impl__ == "python"


def test_eventlet_is_monkey_patched_for_the_tests() -> None:
    assert eventlet.patcher.is_monkey_patched("socket")
    assert eventlet.patcher.is_monkey_patched("select")


def test_concurrent_slow_queries_overlap(make_database) -> None:
    """Ten 0.5 s queries from ten greenthreads finish together, not one after another.

    A blocking driver takes >= 5 s here (measured: psycopg's C implementation 5.1 s);
    a cooperative one about 0.6 s. Serialised queries take at least 5 s, so the
    bound of 4 s cannot pass then.
    """
    url = make_database("surveys")
    pool = Pool(url, size=10)

    def slow() -> float:
        with pool.connection() as conn:
            return float(conn.execute("SELECT 0.5 AS s, pg_sleep(0.5)").fetchone()["s"])

    started = time.monotonic()
    greenpool = eventlet.GreenPool(10)
    results = list(greenpool.imap(lambda _: slow(), range(10)))
    elapsed = time.monotonic() - started
    pool.close()
    assert results == [0.5] * 10
    assert elapsed < 4.0, f"queries serialised: {elapsed:.2f}s for 10 x 0.5s"


def test_other_greenthreads_run_while_a_query_waits(make_database) -> None:
    url = make_database("surveys")
    ticks: list[float] = []

    def ticker() -> None:
        for _ in range(5):
            ticks.append(time.monotonic())
            eventlet.sleep(0.05)

    with connect(url) as conn:
        gt = eventlet.spawn(ticker)
        conn.execute("SELECT pg_sleep(0.4)")
        query_done = time.monotonic()
        gt.wait()
    ticks_during_query = [t for t in ticks if t < query_done]
    assert len(ticks_during_query) == 5, "the ticker was frozen while the query ran"
