"""PostgreSQL access that stays cooperative under eventlet.

Only the pure-Python psycopg implementation is used: its waits go through the
``selectors`` module, which eventlet monkey-patches, so a slow query parks the
greenthread instead of freezing the whole nameko service. ``tests`` prove it.
"""

from __future__ import annotations

import os

os.environ.setdefault("PSYCOPG_IMPL", "python")

import queue  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402
from nameko.extensions import DependencyProvider  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402

if psycopg.pq.__impl__ != "python":  # pragma: no cover - guards a packaging mistake
    raise RuntimeError(
        f"psycopg is using its {psycopg.pq.__impl__} implementation, which blocks eventlet; "
        "install plain 'psycopg' without the [binary]/[c] extras"
    )


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url, row_factory=dict_row, autocommit=autocommit)


class Pool:
    """A small LIFO connection pool; safe for threads and greenthreads alike.

    At most ``size`` connections are open at once, and at most ``max_idle`` stay
    open between uses: PostgreSQL allows 100 clients by default, shared by every
    process of every service (and, in the tests, by several suites at once).
    """

    def __init__(self, url: str, size: int = 10, max_idle: int = 2) -> None:
        self.url = url
        self.size = size
        self.max_idle = max_idle
        self._closed = False
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = queue.Queue[None]()
        for _ in range(size):
            self._slots.put(None)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection inside a transaction: committed on success, rolled back on error."""
        self._slots.get()
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
                if conn.closed:
                    conn = connect(self.url)
            except queue.Empty:
                conn = connect(self.url)
            with conn.transaction():
                yield conn
        except BaseException:
            if conn is not None and conn.broken:
                conn.close()
            raise
        finally:
            if conn is not None and not conn.closed:
                if self._closed or self._idle.qsize() >= self.max_idle:
                    conn.close()
                else:
                    self._idle.put(conn)
            self._slots.put(None)

    def close(self) -> None:
        """Close the idle connections; those in use close when they come back."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def server_url(url: str, dbname: str = "postgres") -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def create_database(url: str) -> bool:
    """Create the database named in ``url`` when it does not exist. True if created.

    Two processes may do this at once (two instances migrating a fresh database): both
    see it missing, one creates it and the other's CREATE fails; that one returns False."""
    name = database_name(url)
    with connect(server_url(url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            return False  # created meanwhile by someone else
        return True


def drop_database(url: str) -> None:
    name = database_name(url)
    with connect(server_url(url), autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)
            )
        )


class Database(DependencyProvider):
    """nameko dependency: the service's connection pool, from ``DATABASE_URL``."""

    def setup(self) -> None:
        config = self.container.config
        self.pool = Pool(
            config["DATABASE_URL"],
            size=int(config.get("DB_POOL_SIZE", 12)),
            max_idle=int(config.get("DB_POOL_IDLE", 2)),
        )

    def get_dependency(self, worker_ctx: object) -> Pool:
        return self.pool

    def stop(self) -> None:
        self.pool.close()

    def kill(self) -> None:
        self.pool.close()
