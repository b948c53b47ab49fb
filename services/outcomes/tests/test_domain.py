"""Outcomes' pure rules (no I/O): records and their history, loops, roll-up, what changes
tell the world, import rows, surveys' decisions moved over, digests and retention."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engage_common.errors import Conflict, ValidationFailed
from engage_contracts import outcomes as contract
from engage_contracts.base import load
from outcomes import domain

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ACTOR = {"staff_id": 7, "name": "A Officer", "role": "engagement-officer"}
CID = str(uuid.uuid4())


def outcome(**kwargs: Any) -> dict[str, Any]:
    clean = load(contract.OutcomeInputSchema(), {"kind": "action", "title": "Evening clinics"})
    made, _ = domain.new_outcome(clean, str(uuid.uuid4()), ACTOR, NOW)
    return {**made, **kwargs}


def test_a_new_outcome_is_a_draft_whose_first_entry_is_its_status() -> None:
    clean = load(
        contract.OutcomeInputSchema(),
        {
            "kind": "commitment",
            "title": "Evening clinics",
            "status": "in-progress",
            "progress": 20,
            "evidence": [
                {"kind": "consultation", "consultation_id": CID},
                {"kind": "consultation", "consultation_id": CID},  # the same evidence twice
                {"kind": "theme", "theme": "gp-access"},
            ],
        },
    )
    made, first = domain.new_outcome(clean, "o1", ACTOR, NOW)
    assert made["published_at"] is None and made["final_at"] is None
    assert made["evidence"] == [
        {"kind": "consultation", "consultation_id": CID},
        {"kind": "theme", "theme": "gp-access"},
    ]
    assert (first["status"], first["progress"], first["by"]) == ("in-progress", 20, "A Officer")
    assert first["on"] == date(2026, 6, 1)
    keys = [r["evidence_key"] for r in domain.evidence_rows(made["evidence"])]
    assert keys == [f"consultation:{CID}", "theme:gp-access"]
    assert domain.evidence_rows(made["evidence"])[0]["consultation_id"] == CID


def test_the_record_changes_without_touching_status_or_history() -> None:
    before = outcome()
    assert domain.change_record(before, {"title": {"en": "Evening clinics"}}, NOW) is before
    after = domain.change_record(before, {"owner": "Jo Bloggs", "due_date": date(2027, 1, 1)}, NOW)
    assert after["owner"] == "Jo Bloggs" and after["status"] == before["status"]


def test_a_parent_may_not_be_the_outcome_or_below_it() -> None:
    domain.check_parent("a", None, [])
    domain.check_parent("a", "b", ["b", "c"])
    with pytest.raises(Conflict) as caught:
        domain.check_parent("a", "a", ["a"])
    assert "parent_id" in caught.value.fields
    with pytest.raises(Conflict):
        domain.check_parent("a", "c", ["c", "b", "a"])  # c is under b, which is under a


def test_progress_updates_move_status_and_keep_or_drop_the_reason() -> None:
    before = outcome()
    moved, made = domain.apply_progress(
        before, {"status": "in-progress", "progress": 40, "note": {"en": "Pilot"}}, ACTOR, NOW
    )
    assert (moved["status"], moved["progress"]) == ("in-progress", 40)
    assert made["note"] == {"en": "Pilot"} and made["by"] == "A Officer"
    stopped, _ = domain.apply_progress(
        moved, {"status": "not-taken-forward", "reason": {"en": "No money"}}, ACTOR, NOW
    )
    assert stopped["final_at"] == NOW and stopped["progress"] == 40
    noted, _ = domain.apply_progress(stopped, {"note": {"en": "Still"}}, ACTOR, NOW + timedelta(1))
    assert noted["reason"] == {"en": "No money"} and noted["final_at"] == NOW  # reason stays
    with pytest.raises(ValidationFailed) as caught:
        domain.apply_progress(stopped, {"reason": None}, ACTOR, NOW, whole=True)
    assert "reason" in caught.value.errors
    again, _ = domain.apply_progress(stopped, {"status": "planned"}, ACTOR, NOW)
    assert again["reason"] is None and again["final_at"] is None


def test_only_a_published_outcome_tells_the_world_and_only_a_status_move_tells_followers() -> None:
    draft = outcome()
    moved, _ = domain.apply_progress(draft, {"status": "done"}, ACTOR, NOW)
    assert domain.changed(draft, moved) == domain.Effects()
    live = {**draft, "published_at": NOW}
    effects = domain.published(live)
    assert effects.notice == "published"
    [(event_type, payload)] = effects.events
    assert event_type == "outcome_published"
    assert set(payload) == set(contract.EVENT_FIELDS["outcome_published"])
    progressed, _ = domain.apply_progress(live, {"progress": 30}, ACTOR, NOW)
    effects = domain.changed(live, progressed)
    assert effects.notice is None and effects.events[0][1]["progress"] == 30
    assert set(effects.events[0][1]) == set(contract.EVENT_FIELDS["outcome_changed"])
    done, _ = domain.apply_progress(progressed, {"status": "done"}, ACTOR, NOW)
    assert domain.changed(progressed, done).notice == "changed"
    noted, _ = domain.apply_progress(done, {"note": {"en": "A note"}}, ACTOR, NOW)
    assert domain.changed(done, noted) == domain.Effects()  # nothing public moved


def test_progress_rolls_up_from_children_recursively() -> None:
    def node(parent: str | None, progress: int, status: str = "in-progress") -> dict[str, Any]:
        return {"parent_id": parent, "progress": progress, "status": status}

    nodes = {
        "p": node(None, 5),
        "a": node("p", 10),
        "a1": node("a", 20),
        "a2": node("a", 60),
        "b": node("p", 100, "done"),
        "c": node("p", 0, "not-taken-forward"),
        "lone": node("elsewhere", 33),
    }
    rolled = domain.roll_up(nodes)
    assert rolled["a"] == 40 and rolled["p"] == 70 and rolled["lone"] == 33
    assert rolled["c"] == 0 and rolled["a1"] == 20


def test_an_import_row_is_unchanged_when_it_says_what_is_stored() -> None:
    row = load(
        contract.OutcomeImportRowSchema(),
        {"line": 2, "reference": "r-1", "kind": "action", "title": "Evening clinics"},
    )
    made, _ = domain.new_outcome(row, "o1", ACTOR, NOW)
    changes, update = domain.import_changes(made, row)
    assert update is None and domain.change_record(made, changes, NOW) is made
    changes, update = domain.import_changes(made, {**row, "status": "done", "progress": 100})
    assert update == {"status": "done", "progress": 100, "reason": None}


def test_row_problems_read_as_one_line_with_their_line_number() -> None:
    assert domain.row_line({"line": 7}, 0) == 7
    assert domain.row_line("not a row", 3) == 4
    assert (
        domain.reason_text({"title": ["is required"], "_schema": ["give a status"]})
        == "title: is required; give a status"
    )


def survey_event(decisions: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "outcome_published",
        "occurred_at": NOW.isoformat(),
        "consultation_id": CID,
        "title": "GP access",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "status": "closed",
        "outcome": {"summary": {"en": "We heard"}, "decisions": decisions},
        **kwargs,
    }


def test_each_decision_of_a_consultation_outcome_becomes_a_published_outcome() -> None:
    moved = domain.read_survey_outcome(
        survey_event(
            [
                {"you_said": "Evenings", "we_did": {"en": "Evening clinics"}, "status": "done"},
                {
                    "you_said": {"en": "Parking"},
                    "we_did": "A car park",
                    "status": "not-taken-forward",
                    "reason": "No land",
                },
            ]
        )
    )
    first, second = domain.moved_outcomes(moved)
    assert first["reference"] == f"consultation:{CID}:1" and first["kind"] == "decision"
    assert first["title"] == {"en": "Evening clinics"} and first["you_said"] == {"en": "Evenings"}
    assert (first["status"], first["progress"]) == ("done", 100)
    assert first["evidence"] == [{"kind": "consultation", "consultation_id": CID}]
    assert first["places"] == ["leeds"] and first["priorities"] == ["living-well"]
    assert second["reason"] == {"en": "No land"} and second["title"] == {"en": "A car park"}


def test_a_later_consultation_outcome_keeps_staff_additions() -> None:
    moved = domain.read_survey_outcome(
        survey_event([{"you_said": "Evenings", "we_did": "Evening clinics", "status": "planned"}])
    )
    [record] = domain.moved_outcomes(moved)
    current = {**record, "owner": "Jo", "progress": 30, "status": "in-progress"}
    changes, update = domain.moved_changes(current, {**record, "status": "in-progress"})
    assert update is None and "owner" not in changes
    changes, update = domain.moved_changes(current, {**record, "status": "done"})
    assert update == {"status": "done", "progress": 100, "reason": None}


def test_a_survey_event_that_is_not_an_outcome_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        domain.read_survey_outcome(
            survey_event(
                [
                    {"we_did": "", "status": "planned"},
                    {"we_did": "x", "status": "not-taken-forward"},
                ],
                consultation_id="nope",
                occurred_at="yesterday",
            )
        )
    assert set(caught.value.errors) == {
        "consultation_id",
        "occurred_at",
        "outcome.decisions.0.we_did",
        "outcome.decisions.1.reason",
    }


def test_the_digest_lists_each_outcome_once_with_its_status_in_words() -> None:
    notices = [
        {"outcome_id": "o1", "status": "done", "title": {"en": "Evening clinics"}, "reason": None},
        {"outcome_id": "o1", "status": "done", "title": {"en": "Evening clinics"}, "reason": None},
        {
            "outcome_id": "o2",
            "status": "not-taken-forward",
            "title": {"en": "A car park"},
            "reason": {"en": "No land"},
        },
    ]
    stop = domain.stop_url("https://engage.test/", "tok")
    assert stop == "https://engage.test/outcomes/stop/tok"
    subject, body = domain.digest_email(notices, "https://engage.test", stop, "Our ICS")
    assert subject == "Our ICS: what happened next"
    assert body.count("Evening clinics: Done") == 1
    assert "https://engage.test/you-said-we-did/outcomes/o1" in body
    assert "A car park: Not taken forward" in body and "Why: No land" in body


def test_one_digest_a_uk_day() -> None:
    late_summer_evening = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 00:30 on 2 June in BST
    assert domain.uk_day(late_summer_evening) == date(2026, 6, 2)
    assert domain.digest_key("f1", date(2026, 6, 2)) == "digest:f1:2026-06-02"
    assert domain.digest_key("f1", date(2026, 6, 2)).startswith(domain.digest_prefix("f1"))


def test_stop_tokens_are_random_and_kept_only_as_a_hash() -> None:
    token, hashed = domain.new_token()
    other, _ = domain.new_token()
    assert token != other and len(token) >= 32 and token not in hashed
    assert domain.token_hash(token) == hashed
    assert domain.purge_before(NOW, 365) == NOW - timedelta(days=365)
