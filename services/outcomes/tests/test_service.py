"""The real outcomes service on a real RabbitMQ vhost and a real PostgreSQL database,
called over RPC exactly as the gateway calls it, fed by the queue and by surveys' events
as in production, its digests caught by a real SMTP server (aiosmtpd) on a free port."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher, get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from engage_common.db import connect
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import DEAD_LETTER_QUEUE, DurablePublisher
from engage_common.notify import ERASED
from engage_common.testing import Mailbox, eventually, holds_for, smtp_server
from engage_contracts import outcomes as contract
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from outcomes.service import OutcomesService

PUBLIC_URL = "https://engage.test"
ACTOR = {"staff_id": 7, "name": "A Officer", "role": "engagement-officer"}
CONSENT = {"given": True, "version": current_consent()["version"]}
META = {"event_id", "event_type", "occurred_at"}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box, _, stop = smtp_server()
    yield box
    stop()


@pytest.fixture(scope="module")
def config(
    make_vhost: Callable[[], str], make_database: Callable[[str], str], mailbox: Mailbox
) -> dict[str, Any]:
    return {
        "AMQP_URI": make_vhost(),
        "DATABASE_URL": make_database("outcomes"),
        "max_workers": 10,
        "PUBLIC_URL": PUBLIC_URL,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": mailbox.port,
        "SMTP_FROM": "engage@engage.test",
    }


@pytest.fixture
def service(container_factory: Any, config: dict[str, Any]) -> Any:
    container = container_factory(OutcomesService, config)
    container.start()
    return container


@pytest.fixture
def rpc(service: Any, config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.outcomes


@pytest.fixture
def events(config: dict[str, Any]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Our own queue bound to ``outcomes.events``; ``take(event_type, n, where)``."""
    connection = Connection(config["AMQP_URI"])
    queue = Queue(
        f"test-outcomes-events-{uuid.uuid4().hex[:8]}",
        exchange=get_event_exchange("outcomes", config),
        routing_key="#",
        auto_delete=True,
    )
    bound = queue(connection.default_channel)
    bound.declare()
    seen: list[dict[str, Any]] = []

    def take(
        event_type: str, count: int = 1, where: Callable[[dict[str, Any]], bool] = bool
    ) -> list[dict[str, Any]]:
        def wanted() -> list[dict[str, Any]]:
            return [e for e in seen if e["event_type"] == event_type and where(e)]

        def arrived() -> bool:
            while (message := bound.get(no_ack=True)) is not None:
                seen.append(message.payload)
            return len(wanted()) >= count

        eventually(arrived, 15, f"{count} {event_type} event(s)")
        return wanted()

    yield take
    connection.release()


def draft(**kwargs: Any) -> dict[str, Any]:
    return {"kind": "action", "title": {"en": "Evening GP appointments"}, **kwargs}


def consultation_link(cid: str) -> dict[str, Any]:
    return {"kind": "consultation", "consultation_id": cid}


def question_link(cid: str, question: str = "q3") -> dict[str, Any]:
    return {"kind": "question", "consultation_id": cid, "question_id": question}


def new_id() -> str:
    return str(uuid.uuid4())


def iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def sql(config: dict[str, Any], query: str, *params: Any) -> list[dict[str, Any]]:
    with connect(config["DATABASE_URL"]) as conn:
        return conn.execute(query, params).fetchall()


def follow_message(email: str, *evidence: dict[str, Any]) -> dict[str, Any]:
    return {
        "follow_id": new_id(),
        "email": email,
        "evidence": list(evidence),
        "channel": "online",
        "consent": CONSENT,
    }


def mails(box: Mailbox, address: str) -> list[Any]:
    return box.to(address)


def send_digests(service: Any) -> None:
    with entrypoint_hook(service, "send_digests") as run:
        run()


def test_health(rpc: Any) -> None:
    assert rpc.health() == {"service": "outcomes", "database": True}


# -- outcomes and their history ---------------------------------------------------------------


def test_an_outcome_is_drafted_changed_progressed_and_published_its_history_kept(
    rpc: Any, config: dict[str, Any]
) -> None:
    partner = ics().partners[0].code
    made = rpc.create_outcome(
        draft(partner=partner, places=["leeds"], priorities=["living-well"]), ACTOR
    )
    oid = made["id"]
    assert made["published"] is False and made["status"] == "planned"
    assert [h["status"] for h in made["history"]] == ["planned"]
    assert made["history"][0]["by"] == "A Officer"
    assert set(made) == set(contract.OutcomeSchema().fields)
    with pytest.raises(NotFound):
        rpc.get_outcome(oid)  # a draft is staff's only
    assert rpc.get_outcome(oid, True)["id"] == oid

    changed = rpc.update_outcome(oid, {"owner": "Jo Bloggs", "due_date": "2027-03-31"}, ACTOR)
    assert changed["owner"] == "Jo Bloggs" and changed["due_date"] == "2027-03-31"
    assert len(changed["history"]) == 1  # the record changed, not the history

    moved = rpc.add_progress(
        oid, {"status": "in-progress", "progress": 40, "note": "Pilot", "at": "2027-01-10"}, ACTOR
    )
    assert (moved["status"], moved["progress"]) == ("in-progress", 40)
    assert moved["history"][1]["on"] == "2027-01-10" and moved["history"][1]["note"] == {
        "en": "Pilot"
    }
    with pytest.raises(ValidationFailed) as caught:
        rpc.add_progress(oid, {"status": "not-taken-forward"}, ACTOR)
    assert "reason" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        rpc.create_outcome(draft(status="not-taken-forward"), ACTOR)
    assert "reason" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        rpc.update_outcome(oid, {"partner": "nobody"}, {"staff_id": 1})
    assert {"partner", "actor.name", "actor.role"} <= set(caught.value.errors)

    published = rpc.publish_outcome(oid, ACTOR)
    assert published["published"] is True and published["published_at"]
    assert rpc.publish_outcome(oid, ACTOR)["published_at"] == published["published_at"]
    stopped = rpc.add_progress(oid, {"status": "not-taken-forward", "reason": "No money"}, ACTOR)
    public = rpc.get_outcome(oid)
    assert public["status"] == "not-taken-forward" and public["reason"] == {"en": "No money"}
    assert [(h["status"], h["progress"]) for h in public["history"]] == [
        ("planned", 0),
        ("in-progress", 40),
        ("not-taken-forward", 40),
    ]
    assert public["history"][:2] == moved["history"]  # earlier entries as they were
    assert stopped["history"] == public["history"]

    with pytest.raises(psycopg.errors.RaiseException):
        sql(config, "UPDATE outcome_history SET progress = 99 WHERE outcome_id = %s", oid)
    with pytest.raises(psycopg.errors.RaiseException):
        sql(config, "DELETE FROM outcome_history WHERE outcome_id = %s", oid)
    with pytest.raises(NotFound):
        rpc.add_progress(new_id(), {"progress": 1}, ACTOR)
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    rpc.create_outcome(draft(reference=reference), ACTOR)
    with pytest.raises(Conflict) as taken:
        rpc.create_outcome(draft(reference=reference), ACTOR)
    assert "reference" in taken.value.message  # (a Conflict's fields do not cross RPC)


def test_a_parent_rolls_up_its_children_and_never_sits_below_itself(rpc: Any) -> None:
    def make(parent: str | None, progress: int, status: str = "in-progress", **kw: Any) -> str:
        return rpc.create_outcome(
            draft(kind="commitment", parent_id=parent, progress=progress, status=status, **kw),
            ACTOR,
        )["id"]

    p = make(None, 5)
    a = make(p, 10)
    a1, a2 = make(a, 20), make(a, 60)
    b = make(p, 100, "done")
    c = make(p, 0, "not-taken-forward", reason="Not needed")
    staff_view = rpc.get_outcome(p, True)
    assert staff_view["children"] == [a, b, c]
    assert staff_view["progress"] == 70  # mean of a (40, from a1 and a2) and b; c left out
    assert rpc.get_outcome(a, True)["progress"] == 40
    assert rpc.get_outcome(a1, True)["parent_id"] == a

    for each in (p, a):
        rpc.publish_outcome(each, ACTOR)
    public = rpc.get_outcome(p)
    assert public["children"] == [a] and public["progress"] == 10  # drafts do not count
    rpc.add_progress(a1, {"progress": 80}, ACTOR)
    assert rpc.get_outcome(p, True)["progress"] == 85

    for parent in (a1, p, a2):
        with pytest.raises(Conflict) as caught:
            rpc.update_outcome(p, {"parent_id": parent}, ACTOR)
        assert "loop" in caught.value.message
    with pytest.raises(ValidationFailed) as missing:
        rpc.update_outcome(b, {"parent_id": new_id()}, ACTOR)
    assert "parent_id" in missing.value.errors
    assert rpc.update_outcome(b, {"parent_id": a}, ACTOR)["parent_id"] == a
    assert rpc.get_outcome(a, True)["children"] == [a1, a2, b]


def test_outcomes_are_listed_by_place_priority_theme_status_and_consultation(rpc: Any) -> None:
    cid, other = new_id(), new_id()
    on_question = rpc.create_outcome(
        draft(places=["wakefield"], evidence=[question_link(cid)], themes=["transport"]), ACTOR
    )["id"]
    on_theme = rpc.create_outcome(
        draft(priorities=["ageing-well"], evidence=[{"kind": "theme", "theme": "transport"}]),
        ACTOR,
    )["id"]
    drafted = rpc.create_outcome(draft(evidence=[consultation_link(cid)]), ACTOR)["id"]
    elsewhere = rpc.create_outcome(draft(evidence=[consultation_link(other)]), ACTOR)["id"]
    for each in (on_question, on_theme, elsewhere):
        rpc.publish_outcome(each, ACTOR)

    def ids(**filters: Any) -> list[str]:
        return [o["id"] for o in rpc.list_outcomes(filters)["outcomes"]]

    assert ids(consultation_id=cid) == [on_question]
    assert ids(consultation_id=cid, include_drafts=True) == [on_question, drafted]
    assert set(ids(theme="transport")) == {on_question, on_theme}
    assert on_question in ids(place="wakefield") and on_theme not in ids(place="wakefield")
    assert on_theme in ids(priority="ageing-well") and on_question not in ids(
        priority="ageing-well"
    )
    assert drafted not in ids() and drafted in ids(include_drafts=True)
    rpc.add_progress(on_theme, {"status": "done", "progress": 100}, ACTOR)
    assert on_theme in ids(status="done") and on_question not in ids(status="done")
    with pytest.raises(ValidationFailed) as caught:
        rpc.list_outcomes({"place": "atlantis", "colour": "red"})
    assert set(caught.value.errors) == {"place", "colour"}


# -- import -----------------------------------------------------------------------------------


def test_an_import_applies_good_rows_reports_bad_ones_by_line_and_changes_nothing_twice(
    rpc: Any, config: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:8]
    known = rpc.create_outcome(draft(reference=f"{tag}-known", owner="Jo"), ACTOR)
    cid = new_id()
    rows = [
        {
            "line": 2,
            "reference": f"{tag}-new",
            "kind": "action",
            "title": "Evening clinics",
            "status": "in-progress",
            "progress": 30,
            "places": ["leeds"],
            "evidence": [consultation_link(cid)],
        },
        {"line": 3, "reference": f"{tag}-bad-kind", "kind": "wish", "title": "x"},
        {
            "line": 4,
            "reference": f"{tag}-no-reason",
            "kind": "decision",
            "title": "x",
            "status": "not-taken-forward",
        },  # fmt: skip
        {"line": 5, "kind": "action", "title": "no reference"},
        {"line": 6, "reference": f"{tag}-new", "kind": "action", "title": "again"},
        {
            "line": 7,
            "reference": f"{tag}-partner",
            "kind": "action",
            "title": "x",
            "partner": "nobody",
        },  # fmt: skip
        {
            "line": 8,
            "reference": f"{tag}-known",
            "kind": "action",
            "title": "Evening GP appointments",
            "owner": "Jo",
            "status": "done",
            "progress": 100,
        },  # fmt: skip
        {
            "line": 9,
            "reference": f"{tag}-loose",
            "kind": "action",
            "title": "x",
            "parent_id": new_id(),
        },  # fmt: skip
    ]
    first = rpc.import_outcomes(rows, ACTOR)
    assert (first["created"], first["updated"], first["unchanged"]) == (1, 1, 0)
    problems = {p["line"]: p["reason"] for p in first["problems"]}
    assert sorted(problems) == [3, 4, 5, 6, 7, 9]
    assert problems[3].startswith("kind:") and problems[4].startswith("reason:")
    assert problems[5].startswith("reference:") and "line 2" in problems[6]
    assert problems[7].startswith("partner:") and problems[9].startswith("parent_id:")
    updated = rpc.get_outcome(known["id"], True)
    assert updated["status"] == "done" and [h["status"] for h in updated["history"]] == [
        "planned",
        "done",
    ]
    new = rpc.list_outcomes({"consultation_id": cid, "include_drafts": True})["outcomes"]
    assert [(o["reference"], o["status"], o["progress"], o["published"]) for o in new] == [
        (f"{tag}-new", "in-progress", 30, False)
    ]

    def history_rows() -> int:
        return sql(config, "SELECT count(*) AS n FROM outcome_history")[0]["n"]

    before = history_rows()
    second = rpc.import_outcomes(rows, ACTOR)
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 2)
    assert second["problems"] == first["problems"]
    assert history_rows() == before

    renamed = [{**rows[6], "owner": "Sam"}]
    assert rpc.import_outcomes(renamed, ACTOR)["updated"] == 1
    assert history_rows() == before  # the record changed; status and progress did not
    assert rpc.get_outcome(known["id"], True)["owner"] == "Sam"
    with pytest.raises(ValidationFailed):
        rpc.import_outcomes("not rows", ACTOR)


# -- followers and digests --------------------------------------------------------------------


def test_a_follower_from_the_queue_gets_one_digest_a_day_and_can_stop(
    rpc: Any, service: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    cid = new_id()
    address = f"resident.{uuid.uuid4().hex[:8]}@example.com"
    body = follow_message(address, question_link(cid))
    publisher = DurablePublisher(config["AMQP_URI"])
    publisher.submit("outcomes", body, message_id=body["follow_id"])
    publisher.submit("outcomes", body, message_id=body["follow_id"])  # redelivered

    def followers() -> int:
        return sql(config, "SELECT count(*) AS n FROM followers WHERE id = %s", body["follow_id"])[
            0
        ]["n"]

    eventually(followers, what="the follow stored")
    holds_for(lambda: followers() == 1, 0.5, "one follower per follow_id")
    bystander = f"other.{uuid.uuid4().hex[:8]}@example.com"
    rpc.follow(follow_message(bystander, {"kind": "feedback", "feedback_id": new_id()}))

    oid = rpc.create_outcome(
        draft(title="Evening clinics", evidence=[consultation_link(cid)]), ACTOR
    )["id"]
    rpc.add_progress(oid, {"status": "in-progress"}, ACTOR)  # a draft: nobody is told
    rpc.publish_outcome(oid, ACTOR)
    rpc.add_progress(oid, {"progress": 50}, ACTOR)  # no status change: no notice
    rpc.add_progress(oid, {"status": "done", "progress": 100}, ACTOR)
    notices = sql(
        config,
        "SELECT what FROM pending_notices WHERE follower_id = %s ORDER BY id",
        body["follow_id"],
    )
    assert [n["what"] for n in notices] == ["published", "changed"]

    send_digests(service)
    [mail] = eventually(lambda: mails(mailbox, address), what="the digest")
    text = mail.get_content()
    assert "Evening clinics: Done" in text and text.count("Evening clinics") == 1
    assert f"{PUBLIC_URL}/you-said-we-did/outcomes/{oid}" in text
    stop = mail["List-Unsubscribe"].strip().strip("<>")
    assert stop.startswith(f"{PUBLIC_URL}/outcomes/stop/") and stop in text

    rpc.add_progress(oid, {"status": "in-progress", "progress": 90}, ACTOR)  # the same day
    send_digests(service)
    holds_for(lambda: len(mails(mailbox, address)) == 1, 1.0, "one digest a day")
    assert mails(mailbox, bystander) == []
    pending = sql(
        config,
        "SELECT count(*) AS n FROM pending_notices WHERE follower_id = %s AND sent_at IS NULL",
        body["follow_id"],
    )
    assert pending[0]["n"] == 1  # waits for tomorrow's digest

    token = re.search(r"/outcomes/stop/([^/\s>]+)$", stop).group(1)
    assert rpc.stop_following(token) == {"stopped": True}
    assert rpc.stop_following(token) == {"stopped": True}  # a second click: the same
    assert (
        sql(config, "SELECT * FROM follower_contacts WHERE follower_id = %s", body["follow_id"])
        == []
    )
    assert (
        sql(config, "SELECT count(*) AS n FROM follower_tokens WHERE token_hash = %s", token)[0][
            "n"
        ]
        == 0
    )  # only its hash is kept
    rpc.add_progress(oid, {"status": "done"}, ACTOR)
    assert (
        sql(
            config,
            "SELECT count(*) AS n FROM pending_notices WHERE follower_id = %s AND sent_at IS NULL",
            body["follow_id"],
        )[0]["n"]
        == 0
    )
    with pytest.raises(NotFound):
        rpc.stop_following("not-a-token-we-ever-sent")


def test_a_follow_without_consent_is_refused_and_a_bad_message_dead_lettered(
    rpc: Any, config: dict[str, Any]
) -> None:
    body = follow_message("a@example.com", consultation_link(new_id()))
    with pytest.raises(ValidationFailed) as caught:
        rpc.follow({**body, "consent": {"given": False, "version": CONSENT["version"]}})
    assert "consent.given" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        rpc.follow({**body, "email": "nope", "evidence": []})
    assert set(caught.value.errors) == {"email", "evidence"}

    bad = {**body, "email": "not an address"}
    DurablePublisher(config["AMQP_URI"]).submit("outcomes", bad, message_id=bad["follow_id"])
    with Connection(config["AMQP_URI"]) as connection:
        queue = DEAD_LETTER_QUEUE(connection.default_channel)
        queue.declare()

        def dead_letter() -> Any:
            message = queue.get(no_ack=True)
            return message if message and message.payload == bad else None

        letter = eventually(dead_letter, what="the bad follow dead-lettered")
    assert letter.headers["x-engage-original-queue"] == "outcomes.submissions"
    assert sql(config, "SELECT * FROM followers WHERE id = %s", bad["follow_id"]) == []


def test_contact_details_are_purged_after_retention(
    rpc: Any, service: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    days = ics().retention_days["contact_for_updates"]
    done_c, open_c = new_id(), new_id()
    final = follow_message(f"final.{uuid.uuid4().hex[:6]}@example.com", consultation_link(done_c))
    unlinked = follow_message(
        f"unlinked.{uuid.uuid4().hex[:6]}@example.com", {"kind": "point", "point_id": new_id()}
    )
    waiting = follow_message(f"open.{uuid.uuid4().hex[:6]}@example.com", question_link(open_c))
    for each in (final, unlinked, waiting):
        rpc.follow(each)
    finished = rpc.create_outcome(draft(evidence=[question_link(done_c, "q1")]), ACTOR)["id"]
    going = rpc.create_outcome(draft(evidence=[consultation_link(open_c)]), ACTOR)["id"]
    for each in (finished, going):
        rpc.publish_outcome(each, ACTOR)
    rpc.add_progress(finished, {"status": "done", "progress": 100}, ACTOR)
    send_digests(service)
    eventually(lambda: mails(mailbox, final["email"]), what="the finished outcome's digest")

    def contact(follower: dict[str, Any]) -> bool:
        rows = sql(
            config, "SELECT 1 FROM follower_contacts WHERE follower_id = %s", follower["follow_id"]
        )
        return bool(rows)

    rpc.purge_expired(iso(timedelta(days=days - 1)))
    assert all(contact(f) for f in (final, unlinked, waiting))
    assert rpc.purge_expired(iso(timedelta(days=days + 1)))["purged"] >= 2
    assert not contact(final) and not contact(unlinked) and contact(waiting)
    sent = sql(
        config,
        "SELECT to_address FROM notifications WHERE message_key LIKE %s",
        f"digest:{final['follow_id']}:%",
    )
    assert [s["to_address"] for s in sent] == [ERASED]  # never resent, no longer to whom
    purged = sql(config, "SELECT purged_at FROM followers WHERE id = %s", final["follow_id"])
    assert purged[0]["purged_at"] is not None
    assert rpc.purge_expired(iso(timedelta(days=days + 1)))["purged"] == 0
    with pytest.raises(ValidationFailed):
        rpc.purge_expired("tomorrow")


# -- events -----------------------------------------------------------------------------------


def test_published_and_changed_outcomes_are_events_with_exactly_the_contract_fields(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    cid = new_id()
    parent = rpc.create_outcome(draft(kind="commitment"), ACTOR)["id"]
    oid = rpc.create_outcome(
        draft(
            evidence=[question_link(cid), {"kind": "theme", "theme": "gp-access"}],
            parent_id=parent,
            themes=["gp-access"],
            due_date="2027-01-31",
        ),
        ACTOR,
    )["id"]
    rpc.update_outcome(oid, {"owner": "Jo"}, ACTOR)  # a draft: no event
    rpc.publish_outcome(oid, ACTOR)
    [published] = events("outcome_published", where=lambda e: e["outcome_id"] == oid)
    assert set(published) == set(contract.EVENT_FIELDS["outcome_published"]) | META
    assert published["evidence"] == [question_link(cid), {"kind": "theme", "theme": "gp-access"}]
    assert published["parent_id"] == parent and published["due_date"] == "2027-01-31"
    assert published["title"] == {"en": "Evening GP appointments"}

    rpc.add_progress(oid, {"status": "not-taken-forward", "reason": "No money"}, ACTOR)
    rpc.update_outcome(oid, {"title": "Evening appointments"}, ACTOR)
    rpc.update_outcome(oid, {"owner": "Sam"}, ACTOR)  # nothing public changed: no event
    changed = events("outcome_changed", 2, where=lambda e: e["outcome_id"] == oid)
    assert all(set(e) == set(contract.EVENT_FIELDS["outcome_changed"]) | META for e in changed)
    assert changed[0]["status"] == "not-taken-forward" and changed[0]["reason"] == {
        "en": "No money"
    }
    assert changed[1]["title"] == {"en": "Evening appointments"}
    outbox = sql(
        config,
        "SELECT event_type FROM outbox WHERE payload->>'outcome_id' = %s ORDER BY id",
        oid,
    )
    assert [o["event_type"] for o in outbox] == [
        "outcome_published",
        "outcome_changed",
        "outcome_changed",
    ]

    def replayed() -> list[dict[str, Any]]:
        found = rpc.replay_events(None, 5000)["events"]
        return [e for e in found if e.get("outcome_id") == oid]

    eventually(lambda: len(replayed()) == 3, what="the events replayed")
    assert [e["event_id"] for e in replayed()] == [published["event_id"]] + [
        e["event_id"] for e in changed
    ]


# -- consultation outcomes moved over from surveys --------------------------------------------


def survey_event(cid: str, decisions: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """Surveys' ``outcome_published`` as its outbox publishes it."""
    return {
        "consultation_id": cid,
        "title": "GP access",
        "summary": "",
        "places": ["leeds", "wakefield"],
        "priorities": ["living-well"],
        "status": "closed",
        "opens_at": (at - timedelta(days=60)).isoformat(),
        "closes_at": (at - timedelta(days=30)).isoformat(),
        "closed_at": (at - timedelta(days=30)).isoformat(),
        "outcome": {
            "summary": {"en": "What we heard"},
            "decisions": decisions,
            "published_at": at.isoformat(),
        },
        "event_id": new_id(),
        "event_type": "outcome_published",
        "occurred_at": at.isoformat(),
    }


DECISIONS = [
    {"you_said": {"en": "Evenings"}, "we_did": {"en": "Evening clinics"}, "status": "planned"},
    {
        "you_said": "Parking",
        "we_did": "A car park",
        "status": "not-taken-forward",
        "reason": {"en": "No land"},
    },
]


def test_surveys_outcome_published_becomes_published_outcomes_once(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    cid = new_id()
    now = datetime.now(UTC)
    first = survey_event(cid, DECISIONS, now)
    dispatch = event_dispatcher({"AMQP_URI": config["AMQP_URI"]})
    dispatch("surveys", "outcome_published", first)

    def moved() -> list[dict[str, Any]]:
        return rpc.list_outcomes({"consultation_id": cid, "include_drafts": True})["outcomes"]

    found = eventually(lambda: len(moved()) == 2 and moved(), what="two decisions moved over")
    assert [o["reference"] for o in found] == [f"consultation:{cid}:1", f"consultation:{cid}:2"]
    one, two = found
    assert one["published"] and one["kind"] == "decision"
    assert one["title"] == {"en": "Evening clinics"} and one["you_said"] == {"en": "Evenings"}
    assert one["places"] == ["leeds", "wakefield"] and one["priorities"] == ["living-well"]
    assert one["evidence"] == [consultation_link(cid)]
    assert two["status"] == "not-taken-forward" and two["reason"] == {"en": "No land"}
    assert two["you_said"] == {"en": "Parking"} and len(two["history"]) == 1
    events("outcome_published", where=lambda e: e["outcome_id"] == one["id"])

    dispatch("surveys", "outcome_published", first)  # delivered twice
    holds_for(lambda: moved() == found, 1.0, "nothing moved twice")

    rpc.add_progress(one["id"], {"progress": 30, "status": "in-progress"}, ACTOR)
    rpc.update_outcome(one["id"], {"owner": "Jo"}, ACTOR)
    later = [{**DECISIONS[0], "status": "done"}, DECISIONS[1]]
    dispatch("surveys", "outcome_published", survey_event(cid, later, now + timedelta(days=1)))
    done = eventually(lambda: moved()[0]["status"] == "done" and moved()[0], what="the update")
    assert done["progress"] == 100 and done["owner"] == "Jo"  # staff's own additions stay
    assert [h["status"] for h in done["history"]] == ["planned", "in-progress", "done"]
    assert len(moved()) == 2 and moved()[1] == two

    older = [{**DECISIONS[0], "status": "planned"}, DECISIONS[1]]
    dispatch("surveys", "outcome_published", survey_event(cid, older, now - timedelta(days=1)))
    holds_for(lambda: moved()[0]["status"] == "done", 1.0, "an older event changes nothing")


def test_move_consultation_outcomes_moves_surveys_replay_once(rpc: Any) -> None:
    cid = new_id()
    now = datetime.now(UTC)
    replay = [
        {"event_type": "consultation_opened", "event_id": new_id(), "consultation_id": cid},
        survey_event(cid, DECISIONS, now),
    ]
    first = rpc.move_consultation_outcomes(replay)
    assert first == {
        "consultations": 1,
        "outcomes": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "ignored": 1,
    }
    again = rpc.move_consultation_outcomes(replay)
    assert (again["created"], again["skipped"], again["outcomes"]) == (0, 1, 0)
    republished = survey_event(cid, DECISIONS, now + timedelta(minutes=1))
    assert rpc.move_consultation_outcomes([republished])["unchanged"] == 2
    found = rpc.list_outcomes({"consultation_id": cid})["outcomes"]
    assert [len(o["history"]) for o in found] == [1, 1]
    with pytest.raises(ValidationFailed) as caught:
        rpc.move_consultation_outcomes([{**republished, "consultation_id": "nope"}])
    assert "events.0.consultation_id" in caught.value.errors
