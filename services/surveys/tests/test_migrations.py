"""Stored data survives the schema's changes: consultations written before text became
language maps (migration 004) read back as English; equality answers become documents
(005); responses stored before free text was redacted are kept, for the backfill (006)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from psycopg.types.json import Jsonb

from engage_common.db import connect, drop_database
from engage_common.migrate import migrate

MIGRATIONS = Path(__file__).resolve().parents[1] / "surveys" / "migrations"


def test_text_stored_before_language_maps_becomes_english(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    url = make_database("surveys").rsplit("/", 1)[0] + f"/engage_mig_{uuid.uuid4().hex[:8]}"
    before = tmp_path / "before"
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < "004":
            shutil.copy(sql, before / sql.name)
    try:
        migrate(url, before)
        cid = uuid.uuid4()
        questionnaire = {
            "questions": [
                {
                    "id": "pick",
                    "type": "single_choice",
                    "text": "Which one?",
                    "hint": "Choose one",
                    "required": True,
                    "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
                },
                {"id": "tell", "type": "free_text", "text": "Why?", "required": False},
            ]
        }
        outcome = {
            "summary": "We listened",
            "published_at": "2026-01-01T00:00:00+00:00",
            "decisions": [
                {"you_said": "Later", "we_did": "Open till 8", "status": "done"},
                {
                    "you_said": "Parking",
                    "we_did": "No",
                    "status": "not-taken-forward",
                    "reason": "Not our land",
                },
            ],
        }
        with connect(url) as conn:
            conn.execute(
                "INSERT INTO consultations (id, title, summary, places, priorities, status,"
                " questionnaire, outcome) VALUES (%s, 'Old title', 'Old summary', '{}', '{}',"
                " 'closed', %s, %s)",
                (cid, Jsonb(questionnaire), Jsonb(outcome)),
            )
        assert "004_localised_text.sql" in migrate(url, MIGRATIONS)
        with connect(url) as conn:
            row = conn.execute("SELECT * FROM consultations WHERE id = %s", (cid,)).fetchone()
        assert row["title"] == {"en": "Old title"} and row["summary"] == {"en": "Old summary"}
        assert row["description"] == {"en": ""}
        pick, tell = row["questionnaire"]["questions"]
        assert pick["text"] == {"en": "Which one?"} and pick["hint"] == {"en": "Choose one"}
        assert [o["label"] for o in pick["options"]] == [{"en": "A"}, {"en": "B"}]
        assert [o["value"] for o in pick["options"]] == ["a", "b"]
        assert tell == {
            "id": "tell",
            "type": "free_text",
            "text": {"en": "Why?"},
            "required": False,
        }
        done, refused = row["outcome"]["decisions"]
        assert row["outcome"]["summary"] == {"en": "We listened"}
        assert done == {
            "you_said": {"en": "Later"},
            "we_did": {"en": "Open till 8"},
            "status": "done",
        }
        assert refused["reason"] == {"en": "Not our land"}
    finally:
        drop_database(url)


def test_equality_answers_become_a_document_tagged_with_the_old_question_set(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    url = make_database("surveys").rsplit("/", 1)[0] + f"/engage_mig_{uuid.uuid4().hex[:8]}"
    before = tmp_path / "before"
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < "005":
            shutil.copy(sql, before / sql.name)
    try:
        migrate(url, before)
        cid = uuid.uuid4()
        with connect(url) as conn:
            conn.execute(
                "INSERT INTO consultations (id, title, summary, places, priorities, status,"
                " questionnaire) VALUES (%s, '{\"en\": \"T\"}', '{\"en\": \"S\"}', '{}', '{}',"
                " 'open', '{\"questions\": []}')",
                (cid,),
            )
            rid = conn.execute(
                "INSERT INTO responses (submission_id, receipt_code, consultation_id, answers,"
                " submitted_at) VALUES (%s, 'AAAA-BBBB-CCCC', %s, '{}', now()) RETURNING id",
                (uuid.uuid4(), cid),
            ).fetchone()["id"]
            conn.execute(
                "INSERT INTO equality_monitoring (response_id, consultation_id, age_band,"
                " unpaid_carer, postcode_district) VALUES (%s, %s, '25-34', 'yes-up-to-19',"
                " 'LS6')",
                (rid, cid),
            )
        assert "005_equality_versions.sql" in migrate(url, MIGRATIONS)
        with connect(url) as conn:
            row = conn.execute(
                "SELECT question_set, answers FROM equality_monitoring WHERE response_id = %s",
                (rid,),
            ).fetchone()
        # kept as given, under the version it was asked in: never re-labelled
        assert row["question_set"] == "2026-01"
        assert row["answers"] == {
            "age_band": "25-34",
            "unpaid_carer": "yes-up-to-19",
            "postcode_district": "LS6",
        }
    finally:
        drop_database(url)


def test_responses_stored_before_redaction_are_kept_for_the_backfill(
    tmp_path: Path, make_database: Callable[[str], str]
) -> None:
    url = make_database("surveys").rsplit("/", 1)[0] + f"/engage_mig_{uuid.uuid4().hex[:8]}"
    before = tmp_path / "before"
    before.mkdir()
    for sql in sorted(MIGRATIONS.glob("*.sql")):
        if sql.name < "006":
            shutil.copy(sql, before / sql.name)
    try:
        migrate(url, before)
        cid = uuid.uuid4()
        answers = {"why": "My name is Jane Smith", "pick": "a"}
        with connect(url) as conn:
            conn.execute(
                "INSERT INTO consultations (id, title, summary, places, priorities, status,"
                " questionnaire) VALUES (%s, '{\"en\": \"T\"}', '{\"en\": \"S\"}', '{}', '{}',"
                " 'open', '{\"questions\": []}')",
                (cid,),
            )
            conn.execute(
                "INSERT INTO responses (submission_id, receipt_code, consultation_id, answers,"
                " submitted_at) VALUES (%s, 'AAAA-BBBB-CCCC', %s, %s, now())",
                (uuid.uuid4(), cid, Jsonb(answers)),
            )
        assert "006_free_text_redaction_and_themes.sql" in migrate(url, MIGRATIONS)
        with connect(url) as conn:
            row = conn.execute(
                "SELECT answers, redacted_answers, redactions, redactor_version FROM responses"
            ).fetchone()
            tables = {
                r["table_name"]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            }
        # kept as it was; nothing redacted yet: the backfill does that
        assert row == {
            "answers": answers,
            "redacted_answers": None,
            "redactions": None,
            "redactor_version": None,
        }
        assert {"themes", "answer_themes"} <= tables
    finally:
        drop_database(url)
