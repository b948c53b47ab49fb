"""Issue 16, item 1: several instances of everything at once are safe.

Two processes of each service, two of the read-model process (projections) and two
gateways on two ports, all on one RabbitMQ vhost and one set of databases. The client
alternates between the gateways and sends a mixed load at once: responses to an open
consultation (some sent to both gateways with the same key, as a retry through another
replica would), feedback, registrations at an event with fewer places than people, and
staff editing the consultation and theming feedback. Then, counted in each service's own
database: every submission stored once, every event applied once, no event overbooked,
the read model equal to the services' own counts. And migrations started from two places
at once on a fresh database apply each file once (an advisory lock; the database created
by whichever comes first). And a dead letter, stored by one of the two read-model
processes, is listed and replayed with ``./engage manage dead-letters``.

Two projections are safe by design: every read-model change is an upsert that a
redelivered or late event cannot undo (``claim_message`` on the event id in the same
transaction; ``event_at`` guards; tombstones; counts that commute), so it never relied
on one process applying events in order: one process with ten workers already does not.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from nameko.amqp.publish import Publisher

from engage_common.db import connect, create_database, drop_database
from engage_common.messaging import ATTEMPTS_HEADER, DEAD_LETTER_QUEUE
from engage_common.migrate import COMMON, LOCK_KEY
from engage_common.testing import eventually, holds_for
from engage_common.vhosts import AUTH, MANAGEMENT_URL
from engage_contracts.reference import current_consent
from tests.conftest import ROOT, SERVICES, Suite, free_port

pytestmark = pytest.mark.heavy  # ./engage test runs it beside the rest

SUBMISSIONS = 24  # responses, each to one gateway
TWICE = 4  # of each kind, also sent to the other gateway with the same key
FOLLOW_EVERY = 4  # every fourth response asks to hear back (a follow for outcomes)
FEEDBACK = 10
CAPACITY = 5  # places at the event
REGISTRATIONS = 12  # people registering, one place each
TITLES = ("Later GP hours", "Later GP hours in Leeds", "Evening GP hours in Leeds")
QUESTIONNAIRE = {
    "questions": [
        {
            "id": "use",
            "type": "single_choice",
            "required": True,
            "text": "Which service?",
            "options": [{"value": "gp", "label": "GP"}, {"value": "pharmacy", "label": "Pharmacy"}],
        }
    ]
}
PLACES = ("leeds", "wakefield", None)
# Each nameko process (the services and the read model) consumes its RPC queue, and
# surveys, feedback and outcomes their queue of residents' submissions.
SHARED_QUEUES = [f"rpc-{name}" for name in (*SERVICES, "gateway_projections")] + [
    f"{name}.submissions" for name in ("surveys", "feedback", "outcomes")
]
NO_LIMITS = {"RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_READS_PER_MINUTE": "0"}


def consumers(suite: Suite, queue: str) -> int:
    vhost = suite.amqp_uri.rsplit("/", 1)[1]
    got = requests.get(f"{MANAGEMENT_URL}/api/queues/{vhost}/{queue}", auth=AUTH, timeout=15)
    return got.json().get("consumers", 0) if got.status_code == 200 else 0


# Ten processes here, beside the rest of the suite running at the same time: each nameko
# process keeps at most 6 database connections (the default 12 took the test run to 84 of
# PostgreSQL's 100). The gateway keeps its own pool and ignores this.
SMALL_POOL = {"DB_POOL_SIZE": "6"}


@pytest.fixture(scope="module")
def twins(
    make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> Iterator[list[Suite]]:
    """The suite twice over: two ``Suite`` views, one per gateway, sharing every process
    (a second process of each kind runs as ``<name>-2``)."""
    first = Suite(
        amqp_uri=make_vhost(),
        databases={name: make_database(name) for name in (*SERVICES, "gateway")},
        base_url=f"http://127.0.0.1:{free_port()}",
        overrides={"gateway": NO_LIMITS},
    )
    second_port = free_port()
    second = dataclasses.replace(first, base_url=f"http://127.0.0.1:{second_port}")
    try:
        first.start_all(second_port, **SMALL_POOL)
        first.wait_ready()
        second.wait_ready()
        # Both processes of each kind take work: two consumers on each queue they share.
        for queue in SHARED_QUEUES:
            eventually(lambda q=queue: consumers(first, q) == 2, 60, f"two consumers of {queue}")
        yield [first, second]
    finally:
        first.stop_all()


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:500]
    return response.json()


def retried(send: Callable[[], requests.Response], status: int) -> Any:
    """A resident's write, sent again with the same Idempotency-Key while the gateway
    answers 503 (a service slower than the RPC timeout on a loaded machine, then failing
    fast until its health check answers), as a resident's retry would; the answer must
    come within a minute, and a retry must not store anything twice (checked below)."""

    def answered() -> requests.Response | None:
        response = send()
        return None if response.status_code == 503 else response

    return ok(eventually(answered, 60, "an answer other than 503", interval=0.5), status)


def sql(suite: Suite, owner: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with connect(suite.databases[owner]) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def officer(twins: list[Suite]) -> str:
    return twins[0].token("officer@instances.example", "engagement-officer")


def test_two_of_everything_store_and_count_each_thing_once(
    twins: list[Suite], officer: str
) -> None:
    a, b = twins
    now = datetime.now(UTC)
    draft = {
        "title": TITLES[0],
        "summary": "Tell us.",
        "description": "Tell us more.",
        "places": ["leeds", "wakefield"],
        "priorities": ["living-well"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
        "questionnaire": QUESTIONNAIRE,
    }
    cid = ok(a.api("POST", "/staff/consultations", officer, json=draft), 201)["id"]
    ok(b.api("POST", f"/staff/consultations/{cid}/open", officer))
    day = (now + timedelta(days=3)).strftime("%Y-%m-%d")
    event = {
        "kind": "drop-in",
        "title": {"en": "Later GP hours: a drop-in"},
        "starts_local": f"{day}T17:00",
        "ends_local": f"{day}T19:00",
        "venue": {"name": "Harehills library"},
        "place": "leeds",
        "capacity": CAPACITY,
        "consultation_ids": [cid],
    }
    eid = ok(b.api("POST", "/staff/events", officer, json=event), 201)["id"]
    ok(a.api("POST", f"/staff/events/{eid}/publish", officer))
    survey_consent = {"given": True, "version": current_consent()["version"]}
    feedback_consent = {"given": True, "version": current_consent("feedback")["version"]}
    event_consent = {"given": True, "version": current_consent("events")["version"]}

    def through(i: int) -> tuple[Suite, ...]:
        """Gateway ``i % 2``; for the first ``TWICE``, then the other with the same key."""
        return (twins[i % 2], twins[(i + 1) % 2]) if i < TWICE else (twins[i % 2],)

    def respond(i: int) -> list[str]:
        key = f"response-{i}-{uuid.uuid4()}"
        body = {
            "answers": {"use": ("gp", "pharmacy")[i % 2]},
            "place": PLACES[i % 3],
            "consent": survey_consent,
            # some want to hear back: a follow queued for outcomes with the response
            **({"hear_back_email": f"follower-{i}@example.org"} if i % FOLLOW_EVERY == 0 else {}),
        }
        return [
            retried(
                lambda s=s: s.api(
                    "POST",
                    f"/consultations/{cid}/responses",
                    json=body,
                    headers={"Idempotency-Key": key},
                ),
                202,
            )["receipt_code"]
            for s in through(i)
        ]

    def give(i: int) -> list[str]:
        key = f"feedback-{i}-{uuid.uuid4()}"
        body = {
            "kind": "idea",
            "about": "Buses",
            "text": f"A bus to the hospital after six, idea {i}.",
            "place": "leeds",
            "consultation_id": cid,
            "consent": feedback_consent,
        }
        return [
            retried(
                lambda s=s: s.api("POST", "/feedback", headers={"Idempotency-Key": key}, json=body),
                202,
            )["receipt_code"]
            for s in through(i)
        ]

    def register(i: int) -> list[tuple[str, str, int | None]]:
        key = f"registration-{i}-{uuid.uuid4()}"
        answers = [
            retried(
                lambda s=s: s.api(
                    "POST",
                    f"/events/{eid}/registrations",
                    headers={"Idempotency-Key": key},
                    json={"consent": event_consent},
                ),
                201,
            )
            for s in through(i)
        ]
        return [(r["id"], r["status"], r.get("position")) for r in answers]

    def retitle(i: int) -> str:
        changed = twins[i % 2].api(
            "PATCH", f"/staff/consultations/{cid}", officer, json={"title": TITLES[i]}
        )
        return ok(changed)["title"]["en"]

    # Everything at once, interleaved, eight at a time.
    jobs: list[Callable[[], Any]] = []
    for i in range(max(SUBMISSIONS, REGISTRATIONS)):
        if i < SUBMISSIONS:
            jobs.append(lambda i=i: ("response", respond(i)))
        if i < REGISTRATIONS:
            jobs.append(lambda i=i: ("registration", register(i)))
        if i < FEEDBACK:
            jobs.append(lambda i=i: ("feedback", give(i)))
    # Two staff edits at once, through the two gateways, amid the rest.
    jobs.insert(len(jobs) // 3, lambda: ("title", retitle(1)))
    jobs.insert(len(jobs) // 3, lambda: ("title", retitle(2)))
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda job: job(), jobs))
    got: dict[str, list[Any]] = {}
    for kind, value in done:
        got.setdefault(kind, []).append(value)

    # The same key through either gateway is the same response, item or registration.
    for kind in ("response", "feedback", "registration"):
        assert all(len(set(answers)) == 1 for answers in got[kind]), got[kind]
    receipts = [codes[0] for codes in got["response"]]
    assert len(set(receipts)) == SUBMISSIONS

    # Feedback: themed by staff through both gateways once stored.
    codes = [sent[0] for sent in got["feedback"]]

    def feedback_ids() -> list[str]:
        rows = sql(
            a, "feedback", "SELECT id FROM feedback_items WHERE receipt_code = ANY(%s)", codes
        )
        return [str(r["id"]) for r in rows] if len(rows) == FEEDBACK else []

    ids = eventually(feedback_ids, 60, f"{FEEDBACK} feedback items stored")
    for half, s in ((ids[::2], a), (ids[1::2], b)):
        bulk = s.api(
            "POST",
            "/staff/feedback/bulk",
            officer,
            json={"feedback_ids": half, "add_themes": ["transport"], "status": "triaged"},
        )
        assert sorted(ok(bulk)["changed"]) == sorted(half)

    # Every submission stored once, in surveys' own database.
    def stored() -> Counter[str]:
        rows = sql(
            a, "surveys", "SELECT receipt_code FROM responses WHERE consultation_id = %s", cid
        )
        return Counter(r["receipt_code"] for r in rows)

    eventually(lambda: len(stored()) == SUBMISSIONS, 60, f"{SUBMISSIONS} responses stored")
    assert set(stored()) == set(receipts)
    assert max(stored().values()) == 1

    # Every follow stored once by one of the two outcomes processes.
    follows = len(range(0, SUBMISSIONS, FOLLOW_EVERY))

    def followers() -> int:
        rows = sql(
            a,
            "outcomes",
            "SELECT count(DISTINCT follower_id) AS people, count(*) AS n FROM follower_evidence"
            " WHERE consultation_id = %s",
            cid,
        )
        assert rows[0]["people"] == rows[0]["n"]  # one link each
        return rows[0]["n"]

    eventually(lambda: followers() == follows, 60, f"{follows} follows stored")

    # No event overbooked: as many confirmed places as there are, the rest waiting in order.
    registered = [answers[0] for answers in got["registration"]]
    assert len({rid for rid, _, _ in registered}) == REGISTRATIONS
    statuses = Counter(status for _, status, _ in registered)
    assert statuses == {"confirmed": CAPACITY, "waiting": REGISTRATIONS - CAPACITY}
    positions = sorted(at for _, status, at in registered if status == "waiting")
    assert positions == list(range(1, REGISTRATIONS - CAPACITY + 1))
    booked = sql(
        a,
        "events",
        "SELECT status, count(*) AS n, sum(places) AS places FROM registrations"
        " WHERE event_id = %s GROUP BY status",
        eid,
    )
    assert {r["status"]: (r["n"], r["places"]) for r in booked} == {
        "confirmed": (CAPACITY, CAPACITY),
        "waiting": (REGISTRATIONS - CAPACITY, REGISTRATIONS - CAPACITY),
    }

    # The read model equals the services' own counts, and every event was applied once.
    assert sorted(got["title"]) == sorted(TITLES[1:])

    def services_say() -> dict[str, Any]:
        by_place = sql(
            a,
            "surveys",
            "SELECT coalesce(place, '') AS place, count(*) AS n FROM responses"
            " WHERE consultation_id = %s GROUP BY 1",
            cid,
        )
        themed = sql(
            a,
            "feedback",
            "SELECT count(*) AS n FROM feedback_items WHERE id::text = ANY(%s)"
            " AND 'transport' = ANY(themes)",
            ids,
        )
        title = sql(a, "surveys", "SELECT title->>'en' AS t FROM consultations WHERE id = %s", cid)
        return {
            "responses": SUBMISSIONS,
            "by_place": {r["place"]: r["n"] for r in by_place},
            "title": title[0]["t"],
            "feedback": FEEDBACK,
            "themed": themed[0]["n"],
            "reach": {"response": SUBMISSIONS, "feedback": FEEDBACK},
        }

    def read_model_says() -> dict[str, Any]:
        summary = sql(
            a,
            "gateway",
            "SELECT response_count, title->>'en' AS t FROM consultation_summaries WHERE id = %s",
            cid,
        )
        by_place = sql(
            a,
            "gateway",
            "SELECT place, count FROM responses_by_place WHERE consultation_id = %s",
            cid,
        )
        facts = sql(
            a,
            "gateway",
            "SELECT themes FROM feedback_facts WHERE feedback_id::text = ANY(%s) AND NOT deleted",
            ids,
        )
        reach = sql(
            a,
            "gateway",
            "SELECT source, count(*) AS n FROM reach_contributions"
            " WHERE %s::uuid = ANY(consultation_ids) AND source IN ('response', 'feedback')"
            " GROUP BY source",
            cid,
        )
        return {
            "responses": summary[0]["response_count"] if summary else None,
            "by_place": {r["place"]: r["count"] for r in by_place},
            "title": summary[0]["t"] if summary else None,
            "feedback": len(facts),
            "themed": sum("transport" in r["themes"] for r in facts),
            "reach": {r["source"]: r["n"] for r in reach},
        }

    expected = services_say()
    assert expected["title"] in TITLES[1:] and expected["themed"] == FEEDBACK
    eventually(lambda: read_model_says() == expected, 60, f"the read model to say {expected}")

    # Every event the services recorded was published and applied by one of the two
    # projections processes, once (a claim per event and handler in the read model).
    def recorded() -> set[str]:
        events = set()
        for owner in ("surveys", "feedback"):
            rows = sql(
                a,
                owner,
                "SELECT event_id::text AS id FROM outbox WHERE event_type IN"
                " ('consultation_opened', 'consultation_updated', 'response_submitted',"
                " 'feedback_received', 'feedback_themed', 'feedback_status_changed')",
            )
            events |= {r["id"] for r in rows}
        return events

    def claims() -> Counter[str]:
        rows = sql(
            a,
            "gateway",
            "SELECT message_id FROM processed_messages WHERE message_id = ANY(%s)",
            list(recorded()),
        )
        return Counter(r["message_id"] for r in rows)

    events = recorded()
    assert len(events) >= 2 + SUBMISSIONS + 3 * FEEDBACK  # opened, edits, stored, themed...
    eventually(lambda: set(claims()) == events, 60, f"all {len(events)} events applied")
    assert set(claims().values()) == {1}
    holds_for(lambda: read_model_says() == expected, 1, "the read model to stay equal")

    # Each service process kept to its pool through the load (two processes a
    # database; this query's own connection is the one more).
    for owner in SERVICES:
        name = a.databases[owner].rsplit("/", 1)[1]
        held = sql(a, owner, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = %s", name)
        assert held[0]["n"] <= 2 * int(SMALL_POOL["DB_POOL_SIZE"]) + 1, (owner, held)


def manage(suite: Suite, *argv: str, status: int = 0) -> str:
    """``./engage manage ARGV`` (``python -m gateway.cli``) as an operator runs it."""
    ran = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *argv],
        env=suite.env("gateway"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == status, ran.stdout + ran.stderr
    return ran.stdout


def test_a_dead_letter_is_listed_and_replayed_from_the_command_line(
    twins: list[Suite], officer: str
) -> None:
    """A response dead-lettered (as surveys does after its fifth failure) is stored by one
    of the two read-model processes, listed with its error by ``dead-letters list``,
    replayed by ``dead-letters replay`` and stored once by surveys."""
    a = twins[0]
    now = datetime.now(UTC)
    draft = {
        "title": "Dead letters",
        "summary": "Tell us.",
        "description": "Tell us more.",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "opens_at": (now - timedelta(minutes=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
        "questionnaire": QUESTIONNAIRE,
    }
    cid = ok(a.api("POST", "/staff/consultations", officer, json=draft), 201)["id"]
    ok(a.api("POST", f"/staff/consultations/{cid}/open", officer))
    sid = str(uuid.uuid4())
    submission = {
        "submission_id": sid,
        "receipt_code": f"DEAD-{sid[:8]}",
        "consultation_id": cid,
        "answers": {"use": "gp"},
        "place": "leeds",
        "equality": None,
        "consent": {"given": True, "version": current_consent()["version"]},
        "submitted_at": now.isoformat(),
        "channel": "online",
    }
    Publisher(a.amqp_uri, use_confirms=True, serializer="json").publish(
        submission,
        routing_key=DEAD_LETTER_QUEUE.name,
        message_id=sid,
        declare=[DEAD_LETTER_QUEUE],
        headers={
            ATTEMPTS_HEADER: 5,
            "x-engage-original-queue": "surveys.submissions",
            "x-engage-error": "OperationalError: the database was away",
        },
    )

    def stored_letter() -> bool:
        rows = sql(a, "gateway", "SELECT 1 FROM dead_letters WHERE message_id = %s", sid)
        return bool(rows)

    eventually(stored_letter, 60, "the dead letter stored by a projections process")
    out = manage(a, "dead-letters", "list", "--queue", "surveys.submissions")
    assert "stored #" in out and sid in out
    assert "surveys.submissions\t5 attempts\tOperationalError: the database was away" in out
    assert "1 dead letter(s) from surveys.submissions" in out
    assert responses_with(a, sid) == 0

    out = manage(a, "dead-letters", "replay", "--queue", "surveys.submissions")
    assert out == "replayed 1 dead letter(s)\n  1 to surveys.submissions\n"
    eventually(lambda: responses_with(a, sid) == 1, 60, "the replayed response stored")
    holds_for(lambda: responses_with(a, sid) == 1, 1, "the replayed response stored once")
    assert manage(a, "dead-letters", "list").endswith("0 dead letter(s)\n")
    audit = sql(a, "gateway", "SELECT target FROM audit_log WHERE action = 'dead_letter.replay'")
    assert [r["target"].split(" #")[0] for r in audit] == ["surveys.submissions"]


def responses_with(suite: Suite, submission_id: str) -> int:
    rows = sql(
        suite,
        "surveys",
        "SELECT count(*) AS n FROM responses WHERE submission_id = %s",
        submission_id,
    )
    return rows[0]["n"]


def test_migrations_started_from_two_places_at_once_apply_each_file_once() -> None:
    """Two ``python -m engage_common.migrate`` on one fresh database. First on a database
    that does not exist yet (both try to create it); then, on a new one, with the
    migration lock held here, so both are seen waiting for it before either applies
    anything."""
    directory = ROOT / "services/surveys/surveys/migrations"
    files = [f"common/{p.name}" for p in sorted(COMMON.glob("*.sql"))]
    files += [p.name for p in sorted(directory.glob("*.sql"))]
    base = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    base = base.rsplit("/", 1)[0]
    urls = [f"{base}/engage_twice_{uuid.uuid4().hex[:10]}" for _ in range(2)]

    def migrate_twice(url: str, between: Callable[[], None] = lambda: None) -> list[str]:
        run = [sys.executable, "-m", "engage_common.migrate", url, str(directory)]
        procs = [
            subprocess.Popen(run, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        between()
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (_, err) in zip(procs, outs, strict=True):
            assert proc.returncode == 0, err.decode()[-2000:]
        applied = [out.decode().split("migration(s)", 1)[1].split() for out, _ in outs]
        rows = sql_url(url, "SELECT name FROM schema_migrations ORDER BY name")
        assert sorted(r["name"] for r in rows) == sorted(files)
        return sorted(applied[0] + applied[1])

    try:
        assert migrate_twice(urls[0]) == sorted(files)  # each applied by one of the two

        create_database(urls[1])
        with connect(urls[1], autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

            def both_wait() -> None:
                eventually(
                    lambda: waiting_for_lock(urls[1]) == 2, 60, "both migrations at the lock"
                )
                assert (
                    sql_url(urls[1], "SELECT to_regclass('schema_migrations') AS t")[0]["t"] is None
                )
                holder.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

            assert migrate_twice(urls[1], both_wait) == sorted(files)
    finally:
        for url in urls:
            drop_database(url)


def sql_url(url: str, query: str) -> list[dict[str, Any]]:
    with connect(url) as conn:
        return conn.execute(query).fetchall()


def waiting_for_lock(url: str) -> int:
    """Sessions waiting for the migration lock in ``url``'s database."""
    with connect(url) as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = %s"
            " AND d.datname = current_database()",
            (LOCK_KEY,),
        ).fetchone()["n"]
