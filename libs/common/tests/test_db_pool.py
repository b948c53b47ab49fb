"""The pool keeps few connections open: PostgreSQL's 100 clients are shared by every
process of every service, and CI once ran out of them ("too many clients already")."""

from __future__ import annotations

import eventlet
from nameko.containers import ServiceContainer

from engage_common.db import Database, Pool, connect, database_name


def _open_connections(url: str) -> int:
    with connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s AND pid <> "
            "pg_backend_pid()",
            (database_name(url),),
        ).fetchone()
    return int(row["n"])


def test_at_most_max_idle_connections_stay_open_after_a_burst(make_database) -> None:
    url = make_database("surveys")
    pool = Pool(url, size=8, max_idle=2)

    def hold() -> int:
        with pool.connection() as conn:
            return int(conn.execute("SELECT 1 AS one, pg_sleep(0.2)").fetchone()["one"])

    assert list(eventlet.GreenPool(8).imap(lambda _: hold(), range(8))) == [1] * 8
    assert _open_connections(url) == 2
    pool.close()
    assert _open_connections(url) == 0


def test_a_connection_in_use_when_the_pool_closes_is_closed_when_it_comes_back(
    make_database,
) -> None:
    url = make_database("surveys")
    pool = Pool(url, size=2)
    with pool.connection() as conn:
        pool.close()
        conn.execute("SELECT 1")
    assert conn.closed
    assert _open_connections(url) == 0


class _Service:
    name = "pool_probe"
    db = Database()


def test_a_stopped_service_leaves_no_connection_open(make_database, make_vhost) -> None:
    url = make_database("surveys")
    container = ServiceContainer(_Service, {"AMQP_URI": make_vhost(), "DATABASE_URL": url})
    container.start()
    provider = next(iter(container.dependencies))
    with provider.pool.connection() as conn:
        conn.execute("SELECT 1")
    assert _open_connections(url) == 1
    container.stop()
    assert _open_connections(url) == 0
