"""Fixtures every test folder shares: real PostgreSQL databases and real RabbitMQ
vhosts, named uniquely per test run so concurrent runs cannot collide.

eventlet is monkey-patched by the ``pytest-eventlet`` plugin before this file is
imported (nameko 2.14's own plugin no longer does it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import eventlet
import pytest
from kombu.mixins import ConsumerMixin
from psycopg import sql

from engage_common.db import connect, create_database, database_name, drop_database
from engage_common.migrate import migrate
from engage_common.vhosts import create_vhost, delete_vhost

ROOT = Path(__file__).parent
RUN_ID = secrets.token_hex(3)
PG_BASE = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672")

MIGRATIONS = {
    "surveys": ROOT / "services/surveys/surveys/migrations",
    "feedback": ROOT / "services/feedback/feedback/migrations",
    "events": ROOT / "services/events/events/migrations",
    "outcomes": ROOT / "services/outcomes/outcomes/migrations",
    "gateway": ROOT / "gateway/gateway/migrations",
}


def database_url(name: str) -> str:
    return PG_BASE.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def make_database() -> Iterator[Callable[[str], str]]:
    """``make_database("surveys")`` -> URL of a new, migrated database for that owner."""
    made: list[str] = []

    def make(owner: str) -> str:
        url = database_url(f"engage_t{RUN_ID}_{owner}_{len(made)}")
        create_database(url)
        # A commit here does not wait for the disk to flush: these databases need not
        # outlive a crash of PostgreSQL itself (a killed service still loses nothing it
        # committed), and the busy CI machine's disk is spared a flush a commit.
        with connect(PG_BASE, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit TO off").format(
                    sql.Identifier(database_name(url))
                )
            )
        migrate(url, MIGRATIONS[owner])
        made.append(url)
        return url

    yield make
    # A run makes about a hundred; dropped six at a time (eventlet is patched in).
    list(eventlet.GreenPool(6).imap(drop_database, made))


@pytest.fixture(scope="session")
def make_vhost() -> Iterator[Callable[[], str]]:
    """``make_vhost()`` -> AMQP URI of a fresh, empty RabbitMQ vhost."""
    made: list[str] = []

    def make() -> str:
        vhost = f"engage-t{RUN_ID}-{len(made)}"
        uri = create_vhost(vhost, AMQP_BASE)
        made.append(vhost)
        return uri

    yield make
    # A run makes about sixty; one at a time they took 11 s, so six at a time.
    list(eventlet.GreenPool(6).imap(delete_vhost, made))


@pytest.fixture(scope="session", autouse=True)
def quick_consumer_stop() -> Iterator[None]:
    """nameko's consumers wait on kombu in one-second slices (``ConsumerMixin.consume``'s
    ``safety_interval``), so every container a test stops took a second to notice; in
    tests they look every 0.1 s instead (services in production keep kombu's default).
    Nothing else changes: the same broker, the same messages."""
    original = ConsumerMixin.consume

    def consume(self: ConsumerMixin, *args: object, **kwargs: object) -> object:
        kwargs.setdefault("safety_interval", 0.1)
        return original(self, *args, **kwargs)

    ConsumerMixin.consume = consume  # type: ignore[method-assign]
    yield
    ConsumerMixin.consume = original  # type: ignore[method-assign]
