"""The feedback service against real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import connect
from feedback.service import FeedbackService


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("feedback")}


def test_health_answers_over_rpc_after_a_real_query(container_factory, config) -> None:
    container = container_factory(FeedbackService, config)
    container.start()
    with ClusterRpcProxy(config, timeout=10) as cluster:
        assert cluster.feedback.health() == {"service": "feedback", "database": True}


def test_health_fails_when_the_database_is_gone(container_factory, config) -> None:
    broken = {**config, "DATABASE_URL": config["DATABASE_URL"] + "_missing"}
    container = container_factory(FeedbackService, broken)
    container.start()
    with ClusterRpcProxy(broken, timeout=10) as cluster, pytest.raises(Exception) as caught:
        cluster.feedback.health()
    assert "does not exist" in str(caught.value)


def _item(**overrides: object) -> dict:
    return {
        "id": uuid.uuid4(),
        "submission_id": uuid.uuid4(),
        "receipt_code": uuid.uuid4().hex[:8].upper(),
        "place": "leeds",
        "priority": "living-well",
        "channel": "web",
        "text": "Parking at LGI is hard",
        "themes": ["parking", "access"],
        "submitted_at": datetime.now(UTC),
        **overrides,
    }


INSERT = (
    "INSERT INTO feedback_items (id, submission_id, receipt_code, place, priority,"
    " channel, text, themes, submitted_at) VALUES (%(id)s, %(submission_id)s,"
    " %(receipt_code)s, %(place)s, %(priority)s, %(channel)s, %(text)s, %(themes)s,"
    " %(submitted_at)s)"
)


def test_migration_keeps_one_item_per_submission_and_receipt(config) -> None:
    first = _item()
    with connect(config["DATABASE_URL"]) as conn:
        conn.execute(INSERT, first)
        row = conn.execute(
            "SELECT themes FROM feedback_items WHERE id = %s", (first["id"],)
        ).fetchone()
        assert row["themes"] == ["parking", "access"]
    for duplicate in (
        {"submission_id": first["submission_id"]},
        {"receipt_code": first["receipt_code"]},
    ):
        with connect(config["DATABASE_URL"]) as conn, pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(INSERT, _item(**duplicate))


def test_migration_only_accepts_slug_themes(config) -> None:
    with connect(config["DATABASE_URL"]) as conn:
        conn.execute("INSERT INTO themes (slug, label) VALUES ('waiting-times', 'Waiting times')")
    with connect(config["DATABASE_URL"]) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO themes (slug, label) VALUES ('Waiting Times', 'x')")
