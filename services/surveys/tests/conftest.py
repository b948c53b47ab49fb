"""Fixtures the surveys tests share."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from surveys import store

NewConsultation = Callable[[psycopg.Connection, dict[str, Any], str], str]


@pytest.fixture
def open_consultation() -> NewConsultation:
    """``open_consultation(conn, questionnaire, title)``: an open consultation, stored
    straight into the database (opened a day ago, closing in nine); its id."""

    def insert(conn: psycopg.Connection, questionnaire: dict[str, Any], title: str) -> str:
        cid = str(uuid.uuid4())
        now = datetime.now(UTC).replace(microsecond=0)
        store.insert_consultation(
            conn,
            {
                "id": cid,
                "title": {"en": title},
                "summary": {"en": "s"},
                "description": {"en": ""},
                "places": [],
                "priorities": [],
                "opens_at": now - timedelta(days=1),
                "closes_at": now + timedelta(days=9),
                "status": "open",
                "questionnaire": questionnaire,
                "created_at": now,
                "updated_at": now,
            },
        )
        return cid

    return insert
