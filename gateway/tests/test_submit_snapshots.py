"""Issue 15: each gateway worker keeps the fresh snapshot of a consultation in memory for
``MEMORY_TTL`` seconds instead of reading the database on every submission. A change
made through this worker is seen at once; one made through another worker (which
rewrites the database snapshot) within ``MEMORY_TTL``, and surveys still judges every
response it stores."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engage_common.db import Pool
from engage_common.testing import eventually
from engage_contracts.reference import current_consent
from gateway.application import responses
from gateway.application.responses import MEMORY_SIZE, MEMORY_TTL, RecentSnapshots
from gateway.store import snapshots

YES = {"consent": {"given": True, "version": current_consent()["version"]}}
CHOICE = {
    "id": "choice",
    "type": "single_choice",
    "text": "Where do you go first?",
    "required": True,
    "options": [{"value": "gp", "label": "My GP"}, {"value": "ae", "label": "A&E"}],
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """This worker's memory of snapshots, emptied, on a clock the test moves."""
    fake = Clock()
    monkeypatch.setattr(responses, "recent", RecentSnapshots(MEMORY_TTL, MEMORY_SIZE, fake))
    return fake


@pytest.fixture
def officer(as_role: dict[str, dict[str, str]]) -> dict[str, str]:
    return as_role["engagement-officer"]


def create_open(client: FlaskClient, officer: dict[str, str]) -> str:
    draft = {
        "title": "Urgent care in Leeds",
        "summary": "Where should urgent care be?",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        "questionnaire": {"questions": [CHOICE]},
    }
    created = client.post("/api/v1/staff/consultations", json=draft, headers=officer)
    assert created.status_code == 201, created.get_json()
    cid = created.json["id"]
    opened = client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer)
    assert opened.status_code == 200, opened.get_json()
    return cid


def submit(client: FlaskClient, cid: str, choice: str = "gp") -> Any:
    return client.post(
        f"/api/v1/consultations/{cid}/responses", json={**YES, "answers": {"choice": choice}}
    )


def test_snapshots_in_memory_expire_after_their_ttl_and_are_bounded() -> None:
    clock = Clock()
    recent = RecentSnapshots(2.0, 3, clock)
    recent.put("a", {"id": "a"})
    clock.now += 1.9
    assert recent.get("a") == {"id": "a"}
    clock.now += 0.1
    assert recent.get("a") is None
    for key in "bcde":
        recent.put(key, {"id": key})
    assert recent.get("b") is None  # the oldest made room
    assert [recent.get(k) for k in "cde"] == [{"id": k} for k in "cde"]
    recent.forget("d")
    assert recent.get("d") is None


def test_a_close_through_another_worker_is_seen_within_the_memory_ttl(
    surveys: Any,
    client: FlaskClient,
    officer: dict[str, str],
    app: Flask,
    db: Pool,
    clock: Clock,
) -> None:
    cid = create_open(client, officer)
    responses.recent.forget(cid)  # as another worker, which never saw the staff change
    assert submit(client, cid).status_code == 202  # reads the database snapshot
    # Another worker closes it: surveys closes it and that worker rewrites the snapshot.
    closed = app.extensions["engage"].services.surveys("close_consultation", cid)
    with db.connection() as conn:
        snapshots.remember(conn, closed, checked=True)
    # Within the bound this worker still checks against what it read...
    within = submit(client, cid)
    assert within.status_code == 202, within.get_json()
    assert submit(client, cid, "not-an-option").status_code == 422  # checked all the same
    # ... and surveys, which judges every response it stores, keeps it as rejected.
    code = within.json["receipt_code"]

    def receipt() -> dict[str, Any] | None:
        got = client.get(f"/api/v1/receipts/{code}")
        return got.get_json() if got.status_code == 200 else None

    assert eventually(receipt, 30, "the receipt")["status"] == "rejected"
    # Once the bound has passed, the closed consultation refuses responses.
    clock.now += MEMORY_TTL
    assert submit(client, cid).status_code == 409


def test_a_close_through_this_worker_is_seen_at_once(
    surveys: Any, client: FlaskClient, officer: dict[str, str], clock: Clock
) -> None:
    cid = create_open(client, officer)
    assert submit(client, cid).status_code == 202
    closed = client.post(f"/api/v1/staff/consultations/{cid}/close", headers=officer)
    assert closed.status_code == 200, closed.get_json()
    assert submit(client, cid).status_code == 409


def test_submissions_read_the_database_snapshot_once_per_memory_ttl(
    surveys: Any,
    client: FlaskClient,
    officer: dict[str, str],
    db: Pool,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = create_open(client, officer)
    responses.recent.forget(cid)
    reads: list[str] = []
    real: Callable[..., Any] = snapshots.recall_fresh

    def counted(conn: Any, consultation_id: str, ttl: float) -> Any:
        reads.append(consultation_id)
        return real(conn, consultation_id, ttl)

    monkeypatch.setattr(snapshots, "recall_fresh", counted)
    for _ in range(5):
        assert submit(client, cid).status_code == 202
    assert reads == [cid]
    clock.now += MEMORY_TTL
    assert submit(client, cid).status_code == 202
    assert reads == [cid, cid]


def test_an_answer_asked_before_a_close_and_written_after_it_does_not_undo_it(
    surveys: Any,
    client: FlaskClient,
    officer: dict[str, str],
    app: Flask,
    db: Pool,
    clock: Clock,
) -> None:
    """One worker asks surveys for the consultation (open) and is slow to write what it
    heard; meanwhile another closes it and writes the closed snapshot. The late write of
    the open one must not pass for fresh: residents would be told it takes responses."""
    cid = create_open(client, officer)
    services = app.extensions["engage"].services
    heard_open = services.surveys("get_consultation", cid)
    closed = services.surveys("close_consultation", cid)
    with db.connection() as conn:
        snapshots.remember(conn, closed, checked=True)
        snapshots.remember(conn, heard_open, checked=True)  # the slow one, written last
        snapshots.remember(conn, heard_open)  # and a page view of it
        assert snapshots.recall(conn, cid)["status"] == "closed"
    responses.recent.forget(cid)
    assert submit(client, cid).status_code == 409
