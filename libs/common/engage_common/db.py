"""PostgreSQL access that stays cooperative under eventlet.

Only the pure-Python psycopg implementation is used: its waits go through the
``selectors`` module, which eventlet monkey-patches, so a slow query parks the
greenthread instead of freezing the whole nameko service. ``tests`` prove it.
"""

from __future__ import annotations

import os

os.environ.setdefault("PSYCOPG_IMPL", "python")

import threading  # noqa: E402
import time  # noqa: E402
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

    At most ``size`` connections are open at once. A connection handed back stays open
    for the next request (a burst reuses them rather than opening one per request) and
    is closed once it has been idle for ``idle_seconds``: PostgreSQL allows 100 clients
    by default, shared by every process of every service (and, in the tests, by several
    suites at once), so a quiet process holds none for long.
    """

    def __init__(self, url: str, size: int = 10, idle_seconds: float = 10.0) -> None:
        self.url = url
        self.size = size
        self.idle_seconds = idle_seconds
        self._closed = False
        self._lock = threading.Lock()
        # (when it came back, connection), oldest first: the newest is reused first,
        # so under light load the oldest age out.
        self._idle: list[tuple[float, psycopg.Connection]] = []
        self._reaper: threading.Thread | None = None
        self._wake = threading.Event()
        self._slots = threading.BoundedSemaphore(size)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection inside a transaction: committed on success, rolled back on error."""
        self._slots.acquire()
        conn = None
        try:
            conn = self._take()
            if conn is None:
                conn = connect(self.url)
            with conn.transaction():
                yield conn
        except BaseException:
            if conn is not None and conn.broken:
                conn.close()
            raise
        finally:
            if conn is not None and not conn.closed:
                self._give_back(conn)
            self._slots.release()

    def _take(self) -> psycopg.Connection | None:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()[1]
                if not conn.closed:
                    return conn
        return None

    def _give_back(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append((time.monotonic(), conn))
                if self._reaper is None:
                    self._reaper = threading.Thread(
                        target=self._reap, name="db-pool-reaper", daemon=True
                    )
                    self._reaper.start()
                return
        conn.close()

    def _reap(self) -> None:
        """Close connections idle for ``idle_seconds``; ends when none is idle."""
        while True:
            with self._lock:
                now = time.monotonic()
                expired = []
                while self._idle and now - self._idle[0][0] >= self.idle_seconds:
                    expired.append(self._idle.pop(0)[1])
                if not self._idle or self._closed:
                    self._reaper = None
                    wait = None
                else:
                    wait = self._idle[0][0] + self.idle_seconds - now
            for conn in expired:
                conn.close()
            if wait is None:
                return
            self._wake.wait(wait)

    def close(self) -> None:
        """Close the idle connections; those in use close when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._wake.set()
        for _, conn in idle:
            conn.close()


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
            idle_seconds=float(config.get("DB_POOL_IDLE_SECONDS", 10)),
        )

    def get_dependency(self, worker_ctx: object) -> Pool:
        return self.pool

    def stop(self) -> None:
        self.pool.close()

    def kill(self) -> None:
        self.stop()
