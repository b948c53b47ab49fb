"""The events service against real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import connect
from events.service import EventsService


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("events")}


def test_health_answers_over_rpc_after_a_real_query(container_factory, config) -> None:
    container = container_factory(EventsService, config)
    container.start()
    with ClusterRpcProxy(config, timeout=10) as cluster:
        assert cluster.events.health() == {"service": "events", "database": True}


def test_health_fails_when_the_database_is_gone(container_factory, config) -> None:
    broken = {**config, "DATABASE_URL": config["DATABASE_URL"] + "_missing"}
    container = container_factory(EventsService, broken)
    container.start()
    with ClusterRpcProxy(broken, timeout=10) as cluster, pytest.raises(Exception) as caught:
        cluster.events.health()
    assert "does not exist" in str(caught.value)


def _event(conn: psycopg.Connection, **overrides: object) -> uuid.UUID:
    starts = datetime.now(UTC) + timedelta(days=7)
    row = {
        "id": uuid.uuid4(),
        "title": "Listening event",
        "venue": "Halifax Central Library",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "capacity": 30,
        **overrides,
    }
    conn.execute(
        "INSERT INTO engagement_events (id, title, venue, starts_at, ends_at, capacity)"
        " VALUES (%(id)s, %(title)s, %(venue)s, %(starts_at)s, %(ends_at)s,"
        " %(capacity)s)",
        row,
    )
    return row["id"]


def test_migration_defaults_and_checks(config) -> None:
    with connect(config["DATABASE_URL"]) as conn:
        event_id = _event(conn)
        row = conn.execute(
            "SELECT status, accessibility FROM engagement_events WHERE id = %s", (event_id,)
        ).fetchone()
        assert row == {"status": "draft", "accessibility": {}}
    starts = datetime.now(UTC)
    for bad in ({"ends_at": starts - timedelta(hours=1), "starts_at": starts}, {"capacity": 0}):
        with connect(config["DATABASE_URL"]) as conn, pytest.raises(psycopg.errors.CheckViolation):
            _event(conn, **bad)


REGISTER = (
    "INSERT INTO registrations (id, engagement_event_id, submission_id, receipt_code,"
    " name, contact) VALUES (%s, %s, %s, %s, 'A Resident', 'a@example.org')"
)


def test_migration_keeps_registrations_unique_and_tied_to_an_event(config) -> None:
    submission, receipt = uuid.uuid4(), "EV-2M9X"
    with connect(config["DATABASE_URL"]) as conn:
        event_id = _event(conn)
        conn.execute(REGISTER, (uuid.uuid4(), event_id, submission, receipt))
    cases = [
        ((event_id, submission, "EV-OTHER"), psycopg.errors.UniqueViolation),
        ((event_id, uuid.uuid4(), receipt), psycopg.errors.UniqueViolation),
        ((uuid.uuid4(), uuid.uuid4(), "EV-NONE"), psycopg.errors.ForeignKeyViolation),
    ]
    for (event, sub, code), error in cases:
        with connect(config["DATABASE_URL"]) as conn, pytest.raises(error):
            conn.execute(REGISTER, (uuid.uuid4(), event, sub, code))
