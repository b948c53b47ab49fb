"""Residents' free text as staff see it (redacted), the backfill of responses stored before
redaction, and the themes of free-text answers (suggested, confirmed, surveys' copy of
feedback's taxonomy), on the real surveys service, RabbitMQ and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher, get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook, restrict_entrypoints, worker_factory
from psycopg.types.json import Jsonb

from engage_common.db import Pool, connect
from engage_common.errors import NotFound, ValidationFailed
from engage_common.messaging import DurablePublisher
from engage_common.redaction import REDACTOR_VERSION, redact_off_hub
from engage_common.testing import eventually
from engage_contracts import ics
from engage_contracts import surveys as contract
from engage_contracts.reference import current_consent
from surveys.service import SurveysService

YES = {"given": True, "version": current_consent()["version"]}
ACTOR = {"staff_id": 7, "name": "A Officer", "role": "engagement-officer"}
QUESTIONS = [
    {
        "id": "pick",
        "type": "single_choice",
        "text": "Which one?",
        "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
    },
    {"id": "why", "type": "free_text", "text": "Why?"},
    {"id": "else", "type": "free_text", "text": "Anything else?"},
]
PERSONAL = (
    "My name is Jane Smith, ring me on 07700 900123. The GP receptionist was rude and"
    " I waited three weeks for an appointment."
)
REDACTED = (
    "My name is [name removed], ring me on [phone number removed]. The GP receptionist was"
    " rude and I waited three weeks for an appointment."
)
ENVELOPE = ("event_id", "event_type", "occurred_at")
OLD_TEXT = "I am Peter Jones and my email is peter@example.org. The bus never comes."


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict[str, Any]:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys"), "max_workers": 10}


@pytest.fixture
def service(container_factory: Any, config: dict[str, Any]) -> Any:
    container = container_factory(SurveysService, config)
    container.start()
    # seeded at start (an eager timer): the themes suggestions are made from
    eventually(lambda: theme(config, "gp-access"), what="the seeded themes")
    return container


@pytest.fixture
def rpc(service: Any, config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.surveys


@pytest.fixture
def events(config: dict[str, Any]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Our own queue bound to ``surveys.events``; returns ``take(event_type, n)``."""
    connection = Connection(config["AMQP_URI"])
    queue = Queue(
        f"test-surveys-free-text-{uuid.uuid4().hex[:8]}",
        exchange=get_event_exchange("surveys", config),
        routing_key="#",
        auto_delete=True,
    )
    bound = queue(connection.default_channel)
    bound.declare()
    seen: list[dict[str, Any]] = []

    def take(event_type: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        def arrived() -> bool:
            while (message := bound.get(no_ack=True)) is not None:
                seen.append(message.payload)
            return len([e for e in seen if e["event_type"] == event_type]) >= count

        eventually(arrived, timeout, f"{count} {event_type} event(s)")
        return [e for e in seen if e["event_type"] == event_type]

    yield take
    connection.release()


def theme(config: dict[str, Any], slug: str) -> dict[str, Any] | None:
    with connect(config["DATABASE_URL"]) as conn:
        return conn.execute("SELECT * FROM themes WHERE slug = %s", (slug,)).fetchone()


def open_consultation(rpc: Any) -> str:
    now = datetime.now(UTC)
    created = rpc.create_consultation(
        {
            "title": "Urgent care",
            "summary": "Where should it be?",
            "places": ["leeds"],
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=30)).isoformat(),
            "questionnaire": {"questions": QUESTIONS},
        }
    )
    return rpc.open_consultation(created["id"])["id"]


def submit(rpc: Any, config: dict[str, Any], cid: str, answers: dict[str, Any]) -> str:
    """Queue a resident's response as the gateway does; its receipt code once stored."""
    sid = str(uuid.uuid4())
    body = {
        "submission_id": sid,
        "receipt_code": "T-" + sid[:13].upper(),
        "consultation_id": cid,
        "answers": answers,
        "equality": None,
        "place": "leeds",
        "consent": YES,
        "submitted_at": datetime.now(UTC).isoformat(),
        "channel": "online",
    }
    DurablePublisher(config["AMQP_URI"]).submit("surveys", body, message_id=sid)

    def stored() -> bool:
        try:
            return rpc.get_submission(body["receipt_code"])["status"] == "stored"
        except NotFound:
            return False

    eventually(stored, what="the response stored")
    return body["receipt_code"]


def response_row(config: dict[str, Any], receipt_code: str) -> dict[str, Any]:
    with connect(config["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT * FROM responses WHERE receipt_code = %s", (receipt_code,)
        ).fetchone()


def all_answers(rpc: Any, cid: str, question_id: str) -> list[dict[str, Any]]:
    pages, after = [], 0
    while after is not None:
        page = rpc.free_text_answers(cid, question_id, after, 2)
        pages += page["answers"]
        after = page["next_after"]
    return pages


def test_staff_see_free_text_redacted_the_resident_sees_their_own(
    rpc: Any, config: dict[str, Any]
) -> None:
    cid = open_consultation(rpc)
    code = submit(rpc, config, cid, {"pick": "a", "why": PERSONAL, "else": "Nothing more"})

    row = response_row(config, code)
    assert row["answers"]["why"] == PERSONAL  # the original is kept
    assert row["redacted_answers"] == {"why": REDACTED, "else": "Nothing more"}
    assert row["redactions"] == {"why": ["name", "phone"], "else": []}
    assert row["redactor_version"] == REDACTOR_VERSION

    with ics.serving(replace(ics.ics(), small_number_threshold=1)):
        results = rpc.get_results(cid, {})
    why = next(q for q in results["questions"] if q["id"] == "why")
    assert why["free_text"] == [] and why["free_text_truncated"]  # paged apart:
    answers = all_answers(rpc, cid, "why")
    assert [(a["response_id"], a["text"]) for a in answers] == [(row["id"], REDACTED)]

    export = rpc.export_responses(cid, 0, 10)
    exported = dict(zip(export["columns"], json.loads(export["rows"])[0], strict=True))
    assert exported["why"] == REDACTED and exported["pick"] == "a"
    assert "Jane" not in str(export) and "07700" not in str(export)

    # what they sent, as they sent it, for the resident who holds the receipt code
    assert rpc.get_my_response(code)["answers"]["why"] == PERSONAL
    # an erasure request still finds the person by their name in the original text
    found = rpc.find_personal_data(None, "jane smith")["responses"]
    assert [r["receipt_code"] for r in found if r["consultation_id"] == cid] == [code]


def test_theme_suggestions_say_why_and_ignore_what_was_removed(
    rpc: Any, config: dict[str, Any]
) -> None:
    cid = open_consultation(rpc)
    submit(rpc, config, cid, {"pick": "a", "why": PERSONAL})
    submit(rpc, config, cid, {"pick": "b", "why": "Thank you, the carers were brilliant."})
    submit(rpc, config, cid, {"pick": "b"})  # no free text: not listed

    answers = all_answers(rpc, cid, "why")
    assert len(answers) == 2
    first, second = answers
    assert first["text"] == REDACTED and first["question_id"] == "why"
    suggested = {s["theme"]: s for s in first["suggested_themes"]}
    assert suggested["gp-access"] == {
        "theme": "gp-access",
        "label": "GP access",
        "because": ["gp", "receptionist", "appointment"],
    }
    assert suggested["waiting-times"]["because"] == ["waited", "weeks"]
    # "[phone number removed]" is the redactor's, not the resident's: no "Communication"
    assert "communication" not in suggested
    assert first["suggested_tone"] == "negative"
    assert first["themes"] == [] and first["tone"] is None and first["confirmed_at"] is None
    assert [s["theme"] for s in second["suggested_themes"]] == ["carers"]
    assert second["suggested_themes"][0]["because"] == ["carers"]
    assert second["suggested_tone"] == "positive"

    page = rpc.free_text_answers(cid, "why", None, 1)
    assert [a["response_id"] for a in page["answers"]] == [first["response_id"]]
    assert page["next_after"] == first["response_id"]
    with pytest.raises(ValidationFailed) as exc:
        rpc.free_text_answers(cid, "pick")
    assert exc.value.errors == {"question_id": [contract.NOT_FREE_TEXT]}
    with pytest.raises(ValidationFailed) as exc:
        rpc.free_text_answers(cid, "why", -1, 500)
    assert set(exc.value.errors) == {"after", "limit"}
    with pytest.raises(NotFound):
        rpc.free_text_answers(str(uuid.uuid4()), "why")


def test_confirming_themes_publishes_answer_themed(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    cid = open_consultation(rpc)
    submit(rpc, config, cid, {"pick": "a", "why": PERSONAL})
    rid = all_answers(rpc, cid, "why")[0]["response_id"]

    confirmed = rpc.confirm_answer_themes(
        rid, "why", ["gp-access", "waiting-times", "gp-access"], "negative", ACTOR
    )
    assert confirmed["themes"] == ["gp-access", "waiting-times"]  # each once, in order
    assert confirmed["tone"] == "negative" and confirmed["confirmed_at"]
    assert confirmed["text"] == REDACTED
    assert [s["theme"] for s in confirmed["suggested_themes"]][:2] == ["gp-access", "waiting-times"]
    assert all_answers(rpc, cid, "why")[0]["themes"] == ["gp-access", "waiting-times"]

    event = [e for e in events("answer_themed") if e["response_id"] == rid][0]
    assert {k: v for k, v in event.items() if k not in ("event_id", "occurred_at")} == {
        "event_type": "answer_themed",
        "response_id": rid,
        "consultation_id": cid,
        "question_id": "why",
        "themes": ["gp-access", "waiting-times"],
        "tone": "negative",
        "place": "leeds",
        "channel": "online",
    }
    assert set(event) == {*contract.EVENT_FIELDS["answer_themed"], *ENVELOPE}

    # the same again changes nothing: no second event; a change is a new one
    rpc.confirm_answer_themes(rid, "why", ["gp-access", "waiting-times"], "negative", ACTOR)
    changed = rpc.confirm_answer_themes(rid, "why", ["communication"], None, ACTOR)
    assert changed["themes"] == ["communication"] and changed["tone"] is None
    mine = [e for e in events("answer_themed", 2) if e["response_id"] == rid]
    assert [e["themes"] for e in mine] == [["gp-access", "waiting-times"], ["communication"]]
    with connect(config["DATABASE_URL"]) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM outbox WHERE event_type = 'answer_themed'"
            " AND (payload->>'response_id')::bigint = %s",
            (rid,),
        ).fetchone()
    assert row["n"] == 2

    with pytest.raises(ValidationFailed) as exc:
        rpc.confirm_answer_themes(rid, "why", ["gp-access", "no-such-theme"], "mixed", ACTOR)
    assert exc.value.errors == {"themes.1": [contract.THEME_NOT_IN_USE]}
    with pytest.raises(ValidationFailed) as exc:
        rpc.confirm_answer_themes(rid, "why", ["Not A Slug"], "cross", ACTOR)
    assert exc.value.errors == {
        "themes.0": ["is not a theme's slug"],
        "tone": ["must be one of positive, negative, mixed, neutral"],
    }
    with pytest.raises(ValidationFailed) as exc:
        rpc.confirm_answer_themes(rid, "why", "gp-access", None, {"name": "x"})
    assert {"themes", "actor.staff_id", "actor.role"} <= set(exc.value.errors)
    for response_id, question_id in ((rid, "pick"), (rid, "else"), (2**40, "why")):
        with pytest.raises(NotFound):
            rpc.confirm_answer_themes(response_id, question_id, [], None, ACTOR)
    assert all_answers(rpc, cid, "why")[0]["themes"] == ["communication"]


@pytest.fixture
def without_backfill(container_factory: Any, config: dict[str, Any]) -> Iterator[Any]:
    """The service with every entrypoint but the backfill's timer, so the test says when
    the backfill runs; its RPC proxy."""
    container = container_factory(SurveysService, config)
    keep = {e.method_name for e in container.entrypoints} - {"redact_backlog"}
    restrict_entrypoints(container, *keep)
    container.start()
    eventually(lambda: theme(config, "transport"), what="the seeded themes")
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.surveys


def backfill(config: dict[str, Any]) -> int:
    """One tick of the backfill, as another instance of the service would run it."""
    pool = Pool(config["DATABASE_URL"], size=2)
    try:
        return worker_factory(SurveysService, db=pool, redact=redact_off_hub).redact_backlog()
    finally:
        pool.close()


def test_backfill_redacts_responses_stored_before_redaction(
    without_backfill: Any, config: dict[str, Any]
) -> None:
    rpc = without_backfill
    cid = open_consultation(rpc)
    confirmed_at = datetime.now(UTC)
    with connect(config["DATABASE_URL"]) as conn:  # as the previous version stored them
        ids = []
        for n, answers in enumerate(
            [
                {"pick": "a", "why": OLD_TEXT},
                {"pick": "b"},
                {"pick": "b", "why": "The bus is late", "else": "Call me on 0113 496 0000"},
            ]
        ):
            ids.append(
                conn.execute(
                    "INSERT INTO responses (submission_id, receipt_code, consultation_id,"
                    " answers, place, submitted_at) VALUES (%s, %s, %s, %s, 'leeds', now())"
                    " RETURNING id",
                    (uuid.uuid4(), f"OLD-{uuid.uuid4().hex[:8]}-{n}", cid, Jsonb(answers)),
                ).fetchone()["id"]
            )
        # ... and one redacted by an older redactor, its themes already confirmed
        stale = conn.execute(
            "INSERT INTO responses (submission_id, receipt_code, consultation_id, answers,"
            " place, submitted_at, redacted_answers, redactions, redactor_version)"
            " VALUES (%s, %s, %s, %s, 'leeds', now(), %s, '{}', '2000-01.1') RETURNING id",
            (
                uuid.uuid4(),
                f"OLD-{uuid.uuid4().hex[:8]}",
                cid,
                Jsonb({"why": "My name is Ann Lee; my GP is great"}),
                Jsonb({"why": "My name is Ann Lee; my GP is great (old redactor)"}),
            ),
        ).fetchone()["id"]
        conn.execute(
            "INSERT INTO answer_themes (response_id, question_id, consultation_id, themes, tone,"
            " confirmed_at, confirmed_by) VALUES (%s, 'why', %s, '{gp-access}', 'positive',"
            " %s, %s)",
            (stale, cid, confirmed_at, Jsonb(ACTOR)),
        )
    ids.append(stale)
    old, none, two, _ = ids

    # Until the backfill reaches them, staff are shown them redacted as they are read.
    with ics.serving(replace(ics.ics(), small_number_threshold=1)):
        results = rpc.get_results(cid, {})
    why = next(q for q in results["questions"] if q["id"] == "why")
    assert why["free_text"] == [] and why["free_text_truncated"]  # paged apart:
    assert [a["text"] for a in all_answers(rpc, cid, "why")] == [
        "I am [name removed] and my email is [email address removed]. The bus never comes.",
        "The bus is late",
        "My name is Ann Lee; my GP is great (old redactor)",  # redacted, if by an old one
    ]
    export = rpc.export_responses(cid, 0, 10)
    assert "Peter" not in str(export) and "0113" not in str(export)
    assert "Call me on [phone number removed]" in str(export)
    listed = all_answers(rpc, cid, "why")
    assert listed[0]["text"].startswith("I am [name removed]")
    assert [s["theme"] for s in listed[0]["suggested_themes"]] == ["transport"]
    assert listed[0]["suggested_tone"] == "neutral"
    with connect(config["DATABASE_URL"]) as conn:
        assert conn.execute(
            "SELECT count(*) AS n FROM responses WHERE id = ANY(%s)"
            " AND redactor_version IS NOT DISTINCT FROM %s",
            (ids, REDACTOR_VERSION),
        ).fetchone() == {"n": 0}  # reading stored nothing

    # Two instances at once: rows one holds are skipped by the other, never waited for.
    with connect(config["DATABASE_URL"]) as held:
        held.execute("SELECT id FROM responses WHERE id = ANY(%s) FOR UPDATE", ([old, two],))
        assert backfill(config) == 2  # the other two
        held.rollback()
    assert backfill(config) == 2
    assert backfill(config) == 0  # idempotent: nothing left to do

    with connect(config["DATABASE_URL"]) as conn:
        rows = {
            r["id"]: r
            for r in conn.execute(
                "SELECT id, answers, redacted_answers, redactions, redactor_version"
                " FROM responses WHERE id = ANY(%s)",
                (ids,),
            )
        }
        themes = {
            (r["response_id"], r["question_id"]): r
            for r in conn.execute("SELECT * FROM answer_themes WHERE response_id = ANY(%s)", (ids,))
        }
    assert {r["redactor_version"] for r in rows.values()} == {REDACTOR_VERSION}
    assert rows[old]["answers"]["why"] == OLD_TEXT  # the original stays
    assert rows[old]["redacted_answers"] == {
        "why": "I am [name removed] and my email is [email address removed]. The bus never comes."
    }
    assert rows[old]["redactions"] == {"why": ["name", "email"]}
    assert rows[none]["redacted_answers"] == {} and rows[none]["redactions"] == {}
    assert rows[two]["redacted_answers"]["else"] == "Call me on [phone number removed]"
    assert rows[stale]["redacted_answers"] == {"why": "My name is [name removed]; my GP is great"}
    assert [s["because"] for s in themes[(old, "why")]["suggested_themes"]] == [["bus"]]
    assert themes[(stale, "why")]["suggested_tone"] == "positive"
    # re-suggested from the new redaction; the themes staff confirmed stay
    assert themes[(stale, "why")]["themes"] == ["gp-access"]
    assert themes[(stale, "why")]["tone"] == "positive"
    assert all_answers(rpc, cid, "why")[2]["text"] == "My name is [name removed]; my GP is great"


def test_retention_purge_drops_the_redacted_text_too(rpc: Any, config: dict[str, Any]) -> None:
    cid = open_consultation(rpc)
    code = submit(rpc, config, cid, {"pick": "a", "why": PERSONAL})
    rid = response_row(config, code)["id"]
    rpc.confirm_answer_themes(rid, "why", ["gp-access"], "negative", ACTOR)
    rpc.close_consultation(cid)
    days = ics.ics().retention_days["consultation_responses"]
    later = (datetime.now(UTC) + timedelta(days=days + 1)).isoformat()
    assert rpc.purge_expired(later)["purged"] >= 1
    row = response_row(config, code)
    assert row["answers"] == {"pick": "a"} and row["redacted_answers"] == {}
    assert rpc.free_text_answers(cid, "why")["answers"] == []
    assert "receptionist" not in str(rpc.export_responses(cid, 0, 10))
    with connect(config["DATABASE_URL"]) as conn:
        kept = conn.execute(
            "SELECT suggested_themes, themes, tone FROM answer_themes WHERE response_id = %s",
            (rid,),
        ).fetchone()
    assert kept == {"suggested_themes": [], "themes": ["gp-access"], "tone": "negative"}


def theme_saved(slug: str, label: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "theme_saved",
        "occurred_at": at.isoformat(),
        "slug": slug,
        "label": label,
        "active": True,
        "priority": None,
        **extra,
    }


def test_themes_follow_feedback_and_an_event_received_twice_changes_nothing(
    rpc: Any, service: Any, config: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    # through RabbitMQ, as feedback's outbox publishes it
    created = theme_saved("estates", "Estates", now, keywords=["building", "Leaking  Roof"])
    event_dispatcher(config)("feedback", "theme_saved", created)
    row = eventually(lambda: theme(config, "estates"), what="the theme from the event")
    assert row["label"] == "Estates" and row["keywords"] == ["building", "leaking roof"]

    renamed = theme_saved("estates", "Buildings and estates", now + timedelta(seconds=1))
    with entrypoint_hook(service, "on_theme_saved") as handle:
        handle(renamed)
        after_first = theme(config, "estates")
        assert after_first["label"] == "Buildings and estates"
        assert after_first["keywords"] == ["building", "leaking roof"]  # none in the event
        handle(renamed)  # delivered again (the outbox publishes at least once)
        assert theme(config, "estates") == after_first
        handle(created)  # an older event, again: changes nothing either
        assert theme(config, "estates") == after_first
    with connect(config["DATABASE_URL"]) as conn:
        claimed = conn.execute(
            "SELECT count(*) AS n FROM processed_messages WHERE message_id = %s",
            (renamed["event_id"],),
        ).fetchone()
    assert claimed["n"] == 1

    # a common topic renamed by feedback keeps the keywords seeded here
    with entrypoint_hook(service, "on_theme_saved") as handle:
        handle(theme_saved("carers", "Unpaid carers", now))
        assert theme(config, "carers")["keywords"] == ["carer", "carers", "caring", "looking after"]
        handle(theme_saved("new-topic", "New topic", now))  # new, no keywords: none
        assert theme(config, "new-topic")["keywords"] == []

    cid = open_consultation(rpc)
    submit(rpc, config, cid, {"pick": "a", "why": "The building has a leaking roof"})
    answer = all_answers(rpc, cid, "why")[0]
    assert answer["suggested_themes"] == [
        {
            "theme": "estates",
            "label": "Buildings and estates",
            "because": ["building", "leaking roof"],
        }
    ]
    rpc.confirm_answer_themes(answer["response_id"], "why", ["estates"], "negative", ACTOR)

    # retired by feedback: no longer suggested nor confirmable, but kept where confirmed
    with entrypoint_hook(service, "on_theme_saved") as handle:
        handle(theme_saved("estates", "Buildings", now + timedelta(seconds=2), active=False))
    assert theme(config, "estates")["active"] is False
    kept = rpc.confirm_answer_themes(answer["response_id"], "why", ["estates"], "mixed", ACTOR)
    assert kept["themes"] == ["estates"]
    submit(rpc, config, cid, {"pick": "a", "why": "Another leaking roof in the building"})
    later = all_answers(rpc, cid, "why")[1]
    assert later["suggested_themes"] == []
    with pytest.raises(ValidationFailed) as exc:
        rpc.confirm_answer_themes(later["response_id"], "why", ["estates"], None, ACTOR)
    assert exc.value.errors == {"themes.0": [contract.THEME_NOT_IN_USE]}
