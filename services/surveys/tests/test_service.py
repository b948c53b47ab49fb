"""The real surveys service on a real RabbitMQ vhost and a real PostgreSQL database,
called over RPC exactly as the gateway calls it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from engage_common.db import connect
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import DEAD_LETTER_QUEUE, DurablePublisher
from engage_common.testing import eventually
from engage_contracts import ics
from engage_contracts import surveys as contract
from engage_contracts.reference import current_consent
from surveys import domain, store
from surveys.service import SurveysService

# From the ICS configuration the tests run under (the default one).
CONSENT_VERSION = current_consent()["version"]

OPTIONS = [
    {"value": "a", "label": "Option A"},
    {"value": "b", "label": "Option B"},
    {"value": "c", "label": "Option C"},
]
QUESTIONS = [
    {
        "id": "pick",
        "type": "single_choice",
        "text": "Which one?",
        "required": True,
        "options": OPTIONS,
    },
    {
        "id": "many",
        "type": "multiple_choice",
        "text": "Which ones?",
        "options": OPTIONS,
        "max_choices": 2,
    },
    {"id": "agree", "type": "likert", "text": "Do you agree?"},
    {"id": "score", "type": "rating", "text": "Score it"},
    {"id": "order", "type": "ranking", "text": "Put them in order", "options": OPTIONS},
    {"id": "why", "type": "free_text", "text": "Why?", "max_length": 100},
]


YES = {"given": True, "version": CONSENT_VERSION}


def iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def draft(**kwargs: Any) -> dict[str, Any]:
    return {
        "title": "Urgent treatment centres",
        "summary": "Where should they be?",
        "places": ["leeds", "wakefield"],
        "priorities": ["living-well"],
        "opens_at": iso(-timedelta(minutes=1)),
        "closes_at": iso(timedelta(days=30)),
        "questionnaire": {"questions": QUESTIONS},
        **kwargs,
    }


def stored(rpc: Any, receipt_code: str) -> Any:
    """What surveys says of a receipt once it has it (None while it is still queued)."""
    try:
        return rpc.get_submission(receipt_code)
    except NotFound:
        return None


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict[str, Any]:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys"), "max_workers": 10}


@pytest.fixture
def service(container_factory: Any, config: dict[str, Any]) -> Any:
    container = container_factory(SurveysService, config)
    container.start()
    return container


@pytest.fixture
def rpc(service: Any, config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.surveys


@pytest.fixture
def events(config: dict[str, Any]) -> Iterator[Callable[[str, int], list[dict[str, Any]]]]:
    """Our own queue bound to ``surveys.events``; returns ``take(event_type, n)``."""
    connection = Connection(config["AMQP_URI"])
    queue = Queue(
        f"test-surveys-events-{uuid.uuid4().hex[:8]}",
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


def message(
    consultation_id: str,
    answers: dict[str, Any],
    equality: dict[str, Any] | None = None,
    place: str | None = None,
    submitted_at: str | None = None,
) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    return {
        "submission_id": sid,
        "receipt_code": "T-" + sid[:13].upper(),
        "consultation_id": consultation_id,
        "answers": answers,
        "equality": equality,
        "place": place,
        "consent": YES,
        "submitted_at": submitted_at or iso(),
        "channel": "online",
    }


def submit(config: dict[str, Any], body: dict[str, Any]) -> None:
    DurablePublisher(config["AMQP_URI"]).submit("surveys", body, message_id=body["submission_id"])


def test_health(rpc: Any) -> None:
    assert rpc.health() == {"service": "surveys", "database": True}


def test_changes_are_stamped_in_order_by_the_databases_clock(
    rpc: Any, events: Any, config: dict[str, Any]
) -> None:
    """Another instance, on a host whose clock is an hour ahead, saved the consultation
    last: a change made here is still stamped later, so the gateway never takes the
    newer state for an older one; events carry the database's time too."""
    cid = rpc.create_consultation(draft())["id"]
    ahead = datetime.now(UTC) + timedelta(hours=1)
    with connect(config["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE consultations SET updated_at = %s WHERE id = %s", (ahead, cid))
    opened = rpc.open_consultation(cid)
    assert datetime.fromisoformat(opened["updated_at"]) > ahead
    edited = rpc.update_consultation(cid, {"summary": "Where should they be, and when?"})
    assert datetime.fromisoformat(edited["updated_at"]) > datetime.fromisoformat(
        opened["updated_at"]
    )
    with connect(config["DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute("SELECT updated_at FROM consultations WHERE id = %s", (cid,)).fetchone()
        database_now = conn.execute("SELECT clock_timestamp() AS t").fetchone()["t"]
    assert row["updated_at"] == datetime.fromisoformat(edited["updated_at"])
    updated = next(e for e in events("consultation_updated") if e["consultation_id"] == cid)
    occurred = datetime.fromisoformat(updated["occurred_at"])
    assert occurred.utcoffset() == timedelta(0)
    assert timedelta(0) <= database_now - occurred < timedelta(minutes=5)


def test_full_lifecycle_and_forbidden_transitions(rpc: Any, events: Any) -> None:
    created = rpc.create_consultation(draft(questionnaire={"questions": QUESTIONS[:1]}))
    cid = created["id"]
    assert created["status"] == "draft" and created["accepting_responses"] is False
    assert created["response_count"] == 0 and created["outcome"] is None
    assert created["questionnaire"]["questions"][0]["required"] is True
    assert created["opens_at"].endswith("+00:00")

    edited = rpc.update_consultation(
        cid, {"questionnaire": {"questions": QUESTIONS}, "places": ["calderdale"]}
    )
    assert [q["id"] for q in edited["questionnaire"]["questions"]] == [q["id"] for q in QUESTIONS]
    assert edited["questionnaire"]["questions"][5]["max_length"] == 100
    assert edited["places"] == ["calderdale"]

    with pytest.raises(Conflict):
        rpc.close_consultation(cid)
    with pytest.raises(Conflict):
        rpc.publish_outcome(
            cid, {"summary": "s", "decisions": [{"you_said": "a", "we_did": "b", "status": "done"}]}
        )

    opened = rpc.open_consultation(cid)
    assert opened["status"] == "open" and opened["accepting_responses"] is True
    assert opened["opened_at"] is not None
    event = events("consultation_opened")[0]
    assert event["consultation_id"] == cid and event["status"] == "open"
    assert event["places"] == ["calderdale"] and event["title"] == opened["title"]
    assert {"event_id", "occurred_at", "opens_at", "closes_at"} <= set(event)

    with pytest.raises(Conflict):
        rpc.open_consultation(cid)
    with pytest.raises(Conflict) as exc:
        rpc.update_consultation(cid, {"questionnaire": {"questions": QUESTIONS[:1]}})
    assert "questionnaire" in exc.value.message
    retitled = rpc.update_consultation(
        cid, {"title": "New title", "closes_at": iso(timedelta(days=40))}
    )
    # text residents read comes back by language (a plain string is English)
    assert retitled["title"] == {"en": "New title"} and retitled["status"] == "open"
    assert events("consultation_updated", 2)[-1]["title"] == {"en": "New title"}

    closed = rpc.close_consultation(cid)
    assert closed["status"] == "closed" and closed["accepting_responses"] is False
    assert events("consultation_closed")[0]["consultation_id"] == cid
    with pytest.raises(Conflict):
        rpc.update_consultation(cid, {"title": "Too late"})
    with pytest.raises(Conflict):
        rpc.close_consultation(cid)

    with pytest.raises(ValidationFailed) as bad:
        rpc.publish_outcome(
            cid,
            {
                "summary": "s",
                "decisions": [{"you_said": "a", "we_did": "b", "status": "not-taken-forward"}],
            },
        )
    assert bad.value.errors == {
        "outcome.decisions.0.reason": ["explain why this was not taken forward"]
    }
    outcome = {
        "summary": "What we did",
        "decisions": [
            {"you_said": "More evening slots", "we_did": "Open until 8pm", "status": "in-progress"},
            {
                "you_said": "Free parking",
                "we_did": "Not possible",
                "status": "not-taken-forward",
                "reason": "The car park is not ours",
            },
        ],
    }
    published = rpc.publish_outcome(cid, outcome)
    assert published["outcome"]["decisions"] == [  # stored by language: plain text is English
        {k: v if k == "status" else {"en": v} for k, v in d.items()} for d in outcome["decisions"]
    ]
    assert published["outcome"]["published_at"]
    assert rpc.get_consultation(cid)["outcome"] == published["outcome"]
    event = events("outcome_published")[0]
    assert event["outcome"]["summary"] == {"en": "What we did"} and event["status"] == "closed"


def test_bad_input_names_the_fields(rpc: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        rpc.create_consultation(
            {
                "title": "",
                "places": ["york"],
                "closes_at": "soon",
                "questionnaire": {
                    "questions": [
                        {"id": "q1", "type": "single_choice", "text": "Q", "options": OPTIONS},
                        {
                            "id": "q2",
                            "type": "rating",
                            "text": "R",
                            "show_if": {"question": "q1", "equals": ["zzz"]},
                        },
                    ]
                },
            }
        )
    errors = exc.value.errors
    assert {
        "title",
        "summary",
        "places.0",
        "closes_at",
        "questionnaire.questions.1.show_if.equals",
    } <= set(errors)
    assert all(isinstance(r, str) for reasons in errors.values() for r in reasons)
    created = rpc.create_consultation(draft())
    with pytest.raises(ValidationFailed) as exc:
        rpc.update_consultation(created["id"], {"colour": "red"})
    assert exc.value.errors == {"colour": ["is not a field we know about"]}
    with pytest.raises(NotFound):
        rpc.get_consultation(str(uuid.uuid4()))
    with pytest.raises(NotFound):
        rpc.update_consultation("not-an-id", {"title": "x"})
    with pytest.raises(Conflict) as conflict:
        rpc.open_consultation(rpc.create_consultation(draft(closes_at=None))["id"])
    assert "closing date" in conflict.value.message


def test_list_consultations_filters(rpc: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    open_one = rpc.open_consultation(
        rpc.create_consultation(
            draft(title=f"open {tag}", places=["harrogate"], priorities=["dying-well"])
        )["id"]
    )
    later = rpc.open_consultation(
        rpc.create_consultation(
            draft(
                title=f"later {tag}",
                places=["harrogate"],
                priorities=["starting-well"],
                opens_at=iso(timedelta(days=1)),
            )
        )["id"]
    )
    a_draft = rpc.create_consultation(draft(title=f"draft {tag}", places=["harrogate"]))

    def ids(filters: dict[str, Any]) -> set[str]:
        return {c["id"] for c in rpc.list_consultations(filters) if c["title"]["en"].endswith(tag)}

    everything = {open_one["id"], later["id"], a_draft["id"]}
    assert ids({}) == everything
    assert ids({"place": "harrogate"}) == everything
    assert ids({"place": "leeds"}) == set()
    assert ids({"status": "open"}) == {open_one["id"], later["id"]}
    assert ids({"status": "draft"}) == {a_draft["id"]}
    assert ids({"priority": "dying-well"}) == {open_one["id"]}
    assert ids({"accepting": True}) == {open_one["id"]}
    assert ids({"accepting": False}) == {later["id"], a_draft["id"]}
    with pytest.raises(ValidationFailed) as exc:
        rpc.list_consultations({"status": "archived", "colour": "red"})
    assert set(exc.value.errors) == {"status", "colour"}


def test_validate_submission(rpc: Any) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    cleaned = rpc.validate_submission(
        cid,
        {
            "answers": {"pick": "a", "why": "  Café ☕ مرحبا  "},
            "equality": {"age_band": "25-34", "postcode_district": "hx1"},
            "consent": YES,
        },
    )
    assert cleaned == {
        "answers": {"pick": "a", "why": "Café ☕ مرحبا"},
        "equality": {"age_band": "25-34", "postcode_district": "HX1"},
        "place": "calderdale",
        "consent": YES,
    }
    with pytest.raises(ValidationFailed) as exc:
        rpc.validate_submission(
            cid,
            {
                "answers": {"many": ["a", "b", "c"], "score": 11, "nope": 1},
                "equality": {"sex": "robot"},
                "consent": YES,
            },
        )
    errors = exc.value.errors
    assert errors["answers.pick"] == ['Question 1 "Which one?": answer this question']
    assert errors["answers.many"] == ['Question 2 "Which ones?": choose no more than 2 options']
    assert errors["answers.score"] == ['Question 4 "Score it": give a whole number from 0 to 10']
    assert errors["answers.nope"] == ["is not a question in this consultation"]
    assert errors["equality.sex"] == ["'robot' is not one of the options"]
    with pytest.raises(ValidationFailed) as exc:
        rpc.validate_submission(cid, {"answers": {"pick": "a"}, "extra": True, "consent": YES})
    assert exc.value.errors == {"extra": ["is not a field we know about"]}
    with pytest.raises(Conflict):
        rpc.validate_submission(
            rpc.create_consultation(draft())["id"], {"answers": {}, "consent": YES}
        )
    with pytest.raises(NotFound):
        rpc.validate_submission(str(uuid.uuid4()), {"answers": {"pick": "a"}, "consent": YES})


def test_submission_is_stored_exactly_once_with_an_event(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    body = message(
        cid,
        {"pick": "b", "why": "👨‍👩‍👧 \u200fשלום e\u0301"},
        equality={"age_band": "35-44", "postcode_district": "WF1"},
        place="wakefield",
    )
    with pytest.raises(NotFound):
        rpc.get_submission(body["receipt_code"])
    submit(config, body)
    submit(config, body)  # the gateway retried: same submission_id
    receipt = eventually(lambda: stored(rpc, body["receipt_code"]))
    assert receipt == {
        "receipt_code": body["receipt_code"],
        "consultation_id": cid,
        "status": "stored",
        "reasons": [],
        "submitted_at": datetime.fromisoformat(body["submitted_at"]).isoformat(),
    }

    event = [e for e in events("response_submitted") if e["consultation_id"] == cid][0]
    assert event["receipt_code"] == body["receipt_code"] and event["place"] == "wakefield"
    assert isinstance(event["response_id"], int)
    assert set(event) == {
        "consultation_id",
        "response_id",
        "receipt_code",
        "place",
        "channel",
        "submitted_at",
        "equality",
        "event_id",
        "event_type",
        "occurred_at",
    }

    # A third copy after the first was stored is a no-op too; wait for the queue to drain.
    submit(config, body)
    marker = message(cid, {"pick": "a"})
    submit(config, marker)
    eventually(lambda: stored(rpc, marker["receipt_code"]))
    assert rpc.get_consultation(cid)["response_count"] == 2
    export = rpc.export_responses(cid, 0, 10)
    assert contract.ExportRowsSchema().validate(export) == {}
    exported = json.loads(export["rows"])
    assert [r[0] for r in exported] == [body["receipt_code"], marker["receipt_code"]]
    assert export["next_after"] is None
    why = export["columns"].index("why")
    assert exported[0][why] == "👨‍👩‍👧 \u200fשלום e\u0301"  # unicode exactly as sent
    assert len([e for e in events("response_submitted", 2) if e["consultation_id"] == cid]) == 2


def test_submissions_that_became_invalid_are_rejected(rpc: Any, config: dict[str, Any]) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    invalid = message(cid, {"pick": "zzz", "score": 3.5})
    submit(config, invalid)
    receipt = eventually(lambda: stored(rpc, invalid["receipt_code"]))
    assert receipt["status"] == "rejected"
    assert 'Question 1 "Which one?": choose one of the options' in receipt["reasons"]
    assert 'Question 4 "Score it": give a whole number from 0 to 10' in receipt["reasons"]

    rpc.close_consultation(cid)
    late = message(cid, {"pick": "a"})
    submit(config, late)
    receipt = eventually(lambda: stored(rpc, late["receipt_code"]))
    assert receipt["status"] == "rejected" and receipt["consultation_id"] == cid
    assert "no longer accepting" in receipt["reasons"][0]

    unknown = message(str(uuid.uuid4()), {"pick": "a"})
    submit(config, unknown)
    assert eventually(lambda: stored(rpc, unknown["receipt_code"]))["status"] == "rejected"
    assert rpc.get_consultation(cid)["response_count"] == 0


RESPONSES = [
    # place, age_band, sex, answers
    (
        "leeds",
        "25-34",
        "female",
        {
            "pick": "a",
            "many": ["a", "b"],
            "agree": "strongly-agree",
            "score": 10,
            "order": ["a", "b", "c"],
            "why": "Closer",
        },
    ),
    (
        "leeds",
        "25-34",
        "male",
        {"pick": "a", "many": ["b"], "agree": "agree", "score": 6, "order": ["b", "a", "c"]},
    ),
    (
        "leeds",
        "65-74",
        "female",
        {"pick": "b", "agree": "disagree", "score": 2, "order": ["a", "c", "b"], "why": "Bus"},
    ),
    (
        "wakefield",
        "25-34",
        "female",
        {"pick": "c", "many": ["a"], "agree": "neither", "score": 5, "order": ["c", "b", "a"]},
    ),
    ("wakefield", None, None, {"pick": "a"}),
]


def test_results_with_filters_and_export_pages(rpc: Any, config: dict[str, Any]) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    bodies = []
    for place, age, sex, answers in RESPONSES:
        equality = {"age_band": age, "sex": sex} if age else None
        bodies.append(message(cid, answers, equality=equality, place=place))
        submit(config, bodies[-1])
    for body in bodies:
        assert eventually(lambda b=body: stored(rpc, b["receipt_code"]))["status"] == ("stored")

    # The arithmetic, with the small-number rule off (it is checked just below).
    with ics.serving(replace(ics.ics(), small_number_threshold=1)):
        results = rpc.get_results(cid, {})
        assert results["consultation_id"] == cid and results["total_responses"] == 5
        q = {item["id"]: item for item in results["questions"]}
        assert q["pick"]["answered"] == 5
        assert [(o["value"], o["count"], o["percent"]) for o in q["pick"]["options"]] == [
            ("a", 3, 60.0),
            ("b", 1, 20.0),
            ("c", 1, 20.0),
        ]
        assert [o["count"] for o in q["many"]["options"]] == [2, 2, 0] and q["many"][
            "answered"
        ] == 3
        assert q["agree"]["mean"] == 3.5  # (5 + 4 + 2 + 3) / 4
        assert [o["count"] for o in q["agree"]["options"]] == [1, 1, 1, 1, 0]
        assert q["score"]["mean"] == 5.75
        assert [d["count"] for d in q["score"]["distribution"]] == [0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1]
        ranking = {r["value"]: r for r in q["order"]["ranking"]}
        assert ranking["a"]["mean_rank"] == 1.75 and ranking["a"]["first_choice"] == 2
        assert ranking["c"]["mean_rank"] == 2.25 and ranking["c"]["first_choice"] == 1
        assert [r["value"] for r in q["order"]["ranking"]] == ["a", "b", "c"]  # 1.75, 2, 2.25
        assert q["why"]["free_text"] == [] and q["why"]["free_text_truncated"]
        why = rpc.free_text_answers(cid, "why")["answers"]
        # Paged apart from the results, oldest stored first; two batches stored at once
        # may store the later submission first (CI, busy: ['Bus', 'Closer']).
        assert sorted(t["text"] for t in why) == ["Bus", "Closer"]

        leeds = rpc.get_results(cid, {"place": "leeds"})
        assert leeds["total_responses"] == 3 and leeds["filters"] == {"place": "leeds"}
        assert [o["count"] for o in leeds["questions"][0]["options"]] == [2, 1, 0]
        young = rpc.get_results(cid, {"age_band": "25-34"})
        assert young["total_responses"] == 3
        assert [o["count"] for o in young["questions"][0]["options"]] == [2, 0, 1]
        both = rpc.get_results(cid, {"place": "leeds", "age_band": "25-34", "sex": "female"})
        assert both["total_responses"] == 1
        assert rpc.get_results(cid, {"place": "kirklees"})["total_responses"] == 0

    # Under the ICS's threshold (5): three Leeds responses are a group too small to show,
    # and no count below 5 is shown, nor one that would give it away.
    leeds = rpc.get_results(cid, {"place": "leeds"})
    assert leeds["suppressed"] is True and leeds["total_responses"] is None
    assert leeds["questions"] == []
    assert rpc.get_results(cid, {"place": "kirklees"})["suppressed"] is False  # nobody
    overall = rpc.get_results(cid, {})
    assert overall["total_responses"] == 5 and overall["small_number_threshold"] == 5
    pick = {o["value"]: o["count"] for o in overall["questions"][0]["options"]}
    assert pick == {"a": None, "b": None, "c": None}
    with pytest.raises(ValidationFailed) as exc:
        rpc.get_results(cid, {"age_band": "ancient", "shoe_size": "9"})
    assert set(exc.value.errors) == {"filters.age_band", "filters.shoe_size"}

    pages, after = [], 0
    while after is not None:
        page = rpc.export_responses(cid, after, 2)
        pages.append({**page, "rows": json.loads(page["rows"])})
        after = page["next_after"]
    assert [len(p["rows"]) for p in pages] == [2, 2, 1]
    columns = pages[0]["columns"]
    assert columns[:10] == [
        "receipt_code",
        "submitted_at",
        "place",
        "channel",
        "pick",
        "many",
        "agree",
        "score",
        "order",
        "why",
    ]
    assert columns[10:13] == ["equality_version", "age_band", "sex"]
    rows = [row for p in pages for row in p["rows"]]
    # stored concurrently, so not necessarily in publishing order; every row exactly once
    assert sorted(r[0] for r in rows) == sorted(b["receipt_code"] for b in bodies)
    by_receipt = {r[0]: dict(zip(columns, r, strict=True)) for r in rows}
    first = by_receipt[bodies[0]["receipt_code"]]
    assert first["many"] == "a; b" and first["order"] == "a; b; c" and first["score"] == 10
    assert first["place"] == "leeds" and first["age_band"] == "25-34"
    assert first["equality_version"] == "2026-11"
    assert first["channel"] == "online"
    assert by_receipt[bodies[4]["receipt_code"]]["age_band"] is None
    with pytest.raises(ValidationFailed):
        rpc.export_responses(cid, -1, 0)


def test_consultations_close_themselves_after_their_close_date(
    rpc: Any, service: Any, config: dict[str, Any], events: Any
) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    still_open = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    with connect(config["DATABASE_URL"]) as conn:  # as if the close date passed an hour ago
        conn.execute(
            "UPDATE consultations SET opens_at = now() - interval '2 days',"
            " closes_at = now() - interval '1 hour' WHERE id = %s",
            (cid,),
        )
    assert rpc.get_consultation(cid)["accepting_responses"] is False
    with entrypoint_hook(service, "close_expired") as close_expired:
        close_expired()
    assert rpc.get_consultation(cid)["status"] == "closed"
    assert rpc.get_consultation(still_open)["status"] == "open"
    assert cid in [e["consultation_id"] for e in events("consultation_closed")]


def test_malformed_submissions(rpc: Any, config: dict[str, Any]) -> None:
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    shaped_wrong = {**message(cid, {"pick": "a"}), "answers": "a", "colour": "red"}
    submit(config, shaped_wrong)
    receipt = eventually(lambda: stored(rpc, shaped_wrong["receipt_code"]))
    assert receipt["status"] == "rejected"
    assert set(receipt["reasons"]) == {
        "answers: must be an object of answers keyed by question id",
        "colour: is not a field we know about",
    }

    # Nothing to record it under: retried, then kept on the dead-letter queue.
    DurablePublisher(config["AMQP_URI"]).submit("surveys", {"hello": "world"}, message_id="no-id")
    with Connection(config["AMQP_URI"]) as connection:
        dead = DEAD_LETTER_QUEUE(connection.default_channel)
        dead.declare()
        got = eventually(lambda: dead.get(no_ack=True))
    assert got.payload == {"hello": "world"}
    assert got.headers["x-engage-original-queue"] == "surveys.submissions"
    assert "unidentifiable submission" in got.headers["x-engage-error"]


def test_a_backlog_is_stored_in_batches_each_submission_once(
    container_factory: Any, config: dict[str, Any]
) -> None:
    """Issue 15: a message a transaction drained a backlog at 78/s. Queued submissions are
    stored in batches: still each once (a copy in the same batch or a later one stores
    nothing), an event each, free text redacted, the invalid one rejected, and one
    that cannot be identified dead-lettered without holding back the rest."""
    first = container_factory(SurveysService, config)
    first.start()
    with ClusterRpcProxy(config, timeout=20) as proxy:
        cid = proxy.surveys.open_consultation(proxy.surveys.create_consultation(draft())["id"])
    cid = cid["id"]
    first.stop()  # nothing consumes the queue until it starts again: a backlog builds up
    bodies = [
        message(cid, {"pick": "a", "why": f"Call me on 07700 900{i:03d}"}, place="leeds")
        for i in range(150)
    ]
    invalid = message(cid, {"pick": "zzz"})
    publisher = DurablePublisher(config["AMQP_URI"])
    for i, body in enumerate(bodies):
        publisher.submit("surveys", body, message_id=body["submission_id"])
        if i % 30 == 0:  # sent twice, the copy right behind it
            publisher.submit("surveys", body, message_id=body["submission_id"])
        if i == 70:
            publisher.submit("surveys", {"batch": "poison"}, message_id="batch-poison")
            publisher.submit("surveys", invalid, message_id=invalid["submission_id"])
    container_factory(SurveysService, config).start()

    with ClusterRpcProxy(config, timeout=20) as proxy:
        count = proxy.surveys.get_consultation

        eventually(lambda: count(cid)["response_count"] >= len(bodies), 60, "the backlog")
        eventually(lambda: stored(proxy.surveys, invalid["receipt_code"]), 60, "the invalid one")
        assert proxy.surveys.get_submission(invalid["receipt_code"])["status"] == "rejected"
    with Connection(config["AMQP_URI"]) as connection:
        dead = DEAD_LETTER_QUEUE(connection.default_channel)
        dead.declare()

        def poisoned() -> Any:
            while (got := dead.get(no_ack=True)) is not None:
                if got.payload == {"batch": "poison"}:
                    return got
            return None

        assert eventually(poisoned, 60, "the poison message dead-lettered")
    with connect(config["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT r.redacted_answers->>'why' AS why, (SELECT count(*) FROM outbox o"
            " WHERE o.event_type = 'response_submitted'"
            " AND (o.payload->>'response_id')::bigint = r.id) AS events,"
            " (SELECT count(*) FROM answer_themes t WHERE t.response_id = r.id) AS themed"
            " FROM responses r WHERE r.consultation_id = %s",
            (cid,),
        ).fetchall()
    assert len(rows) == len(bodies)
    assert {r["events"] for r in rows} == {1} and {r["themed"] for r in rows} == {1}
    assert all("07700" not in r["why"] for r in rows), rows[0]


def test_kept_counts_agree_with_a_scan_after_storing_erasing_and_purging(
    rpc: Any, config: dict[str, Any]
) -> None:
    """Issue 15: results for everyone or one place come from counts kept as responses are
    stored, erased and purged (``result_counts``); they always say what a scan says."""
    cid = rpc.open_consultation(rpc.create_consultation(draft())["id"])["id"]
    likert = ["strongly-agree", "agree", "neither", "disagree"]
    bodies = [
        message(
            cid,
            {
                "pick": "abc"[i % 3],
                "many": ["a", "c"] if i % 2 else ["b"],
                "agree": likert[i % 4],
                "score": i % 11,
                "order": ["c", "a", "b"] if i % 3 else ["a", "b", "c"],
                **({"why": f"Because {i}"} if i % 4 else {}),
            },
            place=["leeds", "wakefield", None][i % 3],
        )
        for i in range(23)
    ]
    for body in bodies:
        submit(config, body)
    eventually(lambda: rpc.get_consultation(cid)["response_count"] == len(bodies), 30)

    def agree() -> None:
        with connect(config["DATABASE_URL"]) as conn:
            consultation = store.get_consultation(conn, cid)
            assert consultation is not None
            for place in (None, "leeds", "wakefield"):
                filters = {"place": place} if place else {}
                kept = store.result_counts(conn, cid, place)
                counted = domain.counted_aggregates(consultation, kept)
                scanned = store.aggregate_results(conn, consultation, filters)
                assert counted[0] == scanned[0] and counted[1]["counts"] == scanned[1]["counts"]
                assert domain.shape_results(
                    consultation, *counted[:1], filters, counted[1], threshold=1
                ) == domain.shape_results(
                    consultation, *scanned[:1], filters, scanned[1], threshold=1
                ), place
            assert store.counted_places(conn, cid) == store.breakdown(conn, cid, "place", {})

    agree()
    with connect(config["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT id FROM responses WHERE consultation_id = %s LIMIT 3", (cid,))
        ids = [r["id"] for r in rows.fetchall()]
    assert rpc.erase_responses(ids)["erased"] == 3
    agree()
    rpc.close_consultation(cid)
    days = ics.ics().retention_days["consultation_responses"]
    later = (datetime.now(UTC) + timedelta(days=days + 1)).isoformat()
    assert rpc.purge_expired(later)["purged"] >= len(bodies) - 3
    with connect(config["DATABASE_URL"]) as conn:
        purged = conn.execute(
            "SELECT count(*) AS n FROM responses WHERE consultation_id = %s"
            " AND purged_at IS NOT NULL",
            (cid,),
        ).fetchone()
    assert purged == {"n": len(bodies) - 3}
    agree()
    why = next(q for q in rpc.get_results(cid)["questions"] if q["id"] == "why")
    assert why["answered"] == 0 and not why["free_text_truncated"]  # purged: none left
