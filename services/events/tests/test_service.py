"""The real events service on a real RabbitMQ vhost and a real PostgreSQL database,
called over RPC exactly as the gateway calls it, its mail caught by a real SMTP server
(aiosmtpd) on a free local port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher, get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from engage_common.db import connect
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.redaction import REDACTOR_VERSION
from engage_common.testing import Mailbox, eventually, holds_for, smtp_server
from engage_contracts import events as contract
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from events.service import EventsService

CONSENT = {"given": True, "version": current_consent("events")["version"]}
PUBLIC_URL = "https://engage.test"
ACTOR = {"staff_id": 21, "name": "Eve Organiser", "role": "engagement-officer"}
META = {"event_id", "event_type", "occurred_at"}


def mails(box: Mailbox, address: str, containing: str = "") -> list[Any]:
    """What reached ``address`` (with ``containing`` in its subject or body)."""
    return [m for m in box.to(address) if containing in str(m["Subject"]) + m.get_content()]


def address() -> str:
    return f"resident.{uuid.uuid4().hex[:10]}@example.com"


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
        "DATABASE_URL": make_database("events"),
        "max_workers": 10,
        "PUBLIC_URL": PUBLIC_URL,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": mailbox.port,
        "SMTP_FROM": "engage@engage.test",
    }


@pytest.fixture
def service(container_factory: Any, config: dict[str, Any]) -> Any:
    container = container_factory(EventsService, config)
    container.start()
    return container


@pytest.fixture
def cluster(service: Any, config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(config, timeout=60) as proxy:
        yield proxy


@pytest.fixture
def rpc(cluster: Any, config: dict[str, Any]) -> Any:
    # themes are seeded as the service starts; points need them
    eventually(lambda: theme_count(config) > 0, 10, "seeded themes")
    return cluster.events


@pytest.fixture
def events(config: dict[str, Any]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Our own queue bound to ``events.events``; ``take(event_type, n, where)``."""
    connection = Connection(config["AMQP_URI"])
    queue = Queue(
        f"test-events-events-{uuid.uuid4().hex[:8]}",
        exchange=get_event_exchange("events", config),
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


def theme_count(config: dict[str, Any]) -> int:
    with connect(config["DATABASE_URL"]) as conn:
        return int(conn.execute("SELECT count(*) AS n FROM themes").fetchone()["n"])


def local(delta: timedelta) -> str:
    """A UK local time ``delta`` from now, to the minute, as staff send it."""
    return contract.local_text(datetime.now(UTC) + delta)


def new_event(rpc: Any, publish: bool = True, **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "community-meeting",
        "title": "Ageing Well: have your say",
        "place": "wakefield",
        "venue": {
            "name": "Wakefield One",
            "address": "Burton Street",
            "postcode": "WF1 2EB",
            "features": ["step-free-access", "hearing-loop"],
        },
        "starts_local": local(timedelta(days=30)),
        "ends_local": local(timedelta(days=30, hours=2)),
        "capacity": 30,
        **fields,
    }
    created = rpc.create_event(body, ACTOR)
    return rpc.publish_event(created["id"], ACTOR) if publish else created


def person(email: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "name": "A Resident" if email or fields.get("name") else None,
        "contact": {"email": email} if email else None,
        "consent": CONSENT,
        **fields,
    }


def register(rpc: Any, event_id: str, **fields: Any) -> dict[str, Any]:
    return rpc.register(event_id, person(**fields), uuid.uuid4().hex)


def registration_rows(config: dict[str, Any], event_id: str) -> list[dict[str, Any]]:
    with connect(config["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT id::text, status, places, registered_at, name, email, manage_code_hash"
            " FROM registrations WHERE event_id = %s ORDER BY registered_at",
            (event_id,),
        ).fetchall()


def statuses(rpc: Any, event_id: str) -> dict[str, tuple[str, int | None]]:
    return {
        r["id"]: (r["status"], r["position"])
        for r in rpc.list_registrations(event_id)["registrations"]
    }


def test_health(rpc: Any) -> None:
    assert rpc.health() == {"service": "events", "database": True}


def test_published_events_can_be_replayed(rpc: Any) -> None:
    event = new_event(rpc)

    def replayed() -> list[Any]:
        page = rpc.replay_events(0, 5000)["events"]
        return [e for e in page if e.get("engagement_event_id") == event["id"]]

    assert eventually(replayed, what="the published event")[0]["event_type"] == (
        "engagement_event_published"
    )


def test_health_fails_when_the_database_is_gone(
    container_factory: Any, config: dict[str, Any]
) -> None:
    broken = {**config, "DATABASE_URL": config["DATABASE_URL"] + "_missing"}
    container_factory(EventsService, broken).start()
    with ClusterRpcProxy(broken, timeout=10) as cluster, pytest.raises(Exception) as caught:
        cluster.events.health()
    assert "does not exist" in str(caught.value)


# -- fair filling -----------------------------------------------------------------------------


def test_two_hundred_at_once_never_overbook_and_wait_in_order_of_arrival(
    rpc: Any, cluster: Any, config: dict[str, Any]
) -> None:
    event = new_event(rpc, capacity=10)
    keys = [f"key-{i}-{uuid.uuid4().hex}" for i in range(200)]
    # all 200 sent before any answer is read (the service works 10 at a time), and the
    # first 20 sent twice more among them: a double click, a retried request
    calls = [(k, cluster.events.register.call_async(event["id"], person(), k)) for k in keys]
    calls += [(k, cluster.events.register.call_async(event["id"], person(), k)) for k in keys[:20]]
    answers = [(k, reply.result()) for k, reply in calls]

    by_key: dict[str, dict[str, Any]] = {}
    for key, answer in answers:
        if key in by_key:  # the same key: the same registration, the same private code
            assert answer["id"] == by_key[key]["id"]
            assert answer["manage_code"] == by_key[key]["manage_code"]
        by_key.setdefault(key, answer)
    assert len({a["id"] for a in by_key.values()}) == 200
    assert len({a["manage_code"] for a in by_key.values()}) == 200

    rows = registration_rows(config, event["id"])
    assert len(rows) == 200
    assert sum(r["places"] for r in rows if r["status"] == "confirmed") == 10
    assert all(r["manage_code_hash"] and len(r["manage_code_hash"]) == 64 for r in rows)
    # the waiting list is the order they got in: positions 1..190, no gaps, no repeats
    waiting = [r for r in rows if r["status"] == "waiting"]
    assert len(waiting) == 190
    first_answers = {a["id"]: a for a in by_key.values()}
    assert [first_answers[r["id"]]["position"] for r in waiting] == list(range(1, 191))
    assert all(first_answers[r["id"]]["position"] is None for r in rows[:10])
    assert {r["status"] for r in rows[:10]} == {"confirmed"}
    shown = rpc.get_event(event["id"])
    assert shown["places_left"] == 0 and shown["waiting"] == 190

    # cancellations give the places to the waiting list in its order
    confirmed = [a for a in by_key.values() if a["status"] == "confirmed"]
    for gone in confirmed[:3]:
        assert rpc.cancel_registration(gone["manage_code"])["status"] == "cancelled"
    now = statuses(rpc, event["id"])
    for promoted in waiting[:3]:
        assert now[promoted["id"]] == ("confirmed", None)
    assert [now[r["id"]] for r in waiting[3:6]] == [("waiting", 1), ("waiting", 2), ("waiting", 3)]
    assert sorted(p for s, p in now.values() if s == "waiting") == list(range(1, 188))
    again = rpc.cancel_registration(confirmed[0]["manage_code"])  # cancelling twice: the same
    assert again["status"] == "cancelled"
    assert (
        sum(
            r["places"]
            for r in registration_rows(config, event["id"])
            if r["status"] == "confirmed"
        )
        == 10
    )


def test_registration_rules(rpc: Any, config: dict[str, Any]) -> None:
    event = new_event(rpc, capacity=5)
    draft = new_event(rpc, publish=False)
    with pytest.raises(NotFound):
        register(rpc, draft["id"])
    with pytest.raises(NotFound):
        rpc.get_event(draft["id"])
    with pytest.raises(ValidationFailed) as failed:
        rpc.register(event["id"], {**person(), "consent": {"given": False, "version": "x"}}, "k1")
    assert set(failed.value.errors) == {"consent.given", "consent.version"}
    with pytest.raises(ValidationFailed) as failed:
        rpc.register(event["id"], person(equality={"age_band": "ancient"}), "k2")
    assert list(failed.value.errors) == ["equality.age_band"]
    with pytest.raises(ValidationFailed) as failed:
        rpc.register(event["id"], person(), "has spaces")
    assert list(failed.value.errors) == ["idempotency_key"]
    with pytest.raises(ValidationFailed) as failed:
        rpc.register(event["id"], person(places=5), "k3")
    assert list(failed.value.errors) == ["places"]

    mine = register(rpc, event["id"], email=address(), places=2, equality={"age_band": "25-34"})
    assert set(mine) == set(contract.RegistrationSchema._declared_fields)
    assert mine["status"] == "confirmed" and mine["places"] == 2 and mine["online_link"] is None
    assert mine["consent"]["wording"] == current_consent("events")["wording"]
    assert contract.MANAGE_CODE.match(mine["manage_code"])
    assert rpc.get_registration(mine["manage_code"]) == mine
    with pytest.raises(NotFound):
        rpc.get_registration("x" * 43)
    with pytest.raises(NotFound):
        rpc.get_registration("../etc")

    # more places than are free: refused; fewer: fine
    register(rpc, event["id"], places=2)
    with pytest.raises(Conflict) as refused:
        rpc.update_registration(mine["manage_code"], {"places": 4})
    assert refused.value.message == "Only 1 more place(s) are free at this event"
    assert rpc.update_registration(mine["manage_code"], {"places": 3})["places"] == 3

    # registration closes: a window that has passed
    closed = new_event(rpc, registration_closes_local=local(timedelta(days=-1)))
    with pytest.raises(Conflict):
        register(rpc, closed["id"])

    # an online session: the link only for a confirmed place, never on the event
    online = new_event(
        rpc,
        kind="online-session",
        venue=None,
        online_link="https://meet.example.org/ageing-well",
        capacity=1,
    )
    assert "online_link" not in rpc.get_event(online["id"]) and online["online"] is True
    first, second = register(rpc, online["id"]), register(rpc, online["id"])
    assert first["online_link"] == "https://meet.example.org/ageing-well"
    assert second["status"] == "waiting" and second["online_link"] is None


def test_a_capacity_cut_needs_names_and_those_moved_are_told(
    rpc: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    event = new_event(rpc, capacity=4)
    emails = {n: address() for n in "abcd"}
    a = register(rpc, event["id"], email=emails["a"])
    b = register(rpc, event["id"], email=emails["b"], places=2)
    c = register(rpc, event["id"], email=emails["c"])
    d = register(rpc, event["id"], email=emails["d"])
    assert [x["status"] for x in (a, b, c, d)] == ["confirmed"] * 3 + ["waiting"]

    with pytest.raises(Conflict) as refused:
        rpc.update_event(event["id"], {"capacity": 2}, ACTOR)
    assert "to_waiting_list" in refused.value.message
    with pytest.raises(Conflict):  # not enough named
        rpc.update_event(event["id"], {"capacity": 2, "to_waiting_list": [c["id"]]}, ACTOR)
    with pytest.raises(ValidationFailed) as failed:
        rpc.update_event(event["id"], {"capacity": 2, "to_waiting_list": [d["id"]]}, ACTOR)
    assert list(failed.value.errors) == ["to_waiting_list.0"]
    assert rpc.get_event(event["id"])["capacity"] == 4  # nothing changed

    cut = rpc.update_event(
        event["id"], {"capacity": 2, "to_waiting_list": [c["id"], a["id"]]}, ACTOR
    )
    assert cut["capacity"] == 2 and cut["places_left"] == 0 and cut["waiting"] == 3
    now = statuses(rpc, event["id"])
    assert now[b["id"]] == ("confirmed", None)
    assert [now[x["id"]] for x in (c, a, d)] == [("waiting", 1), ("waiting", 2), ("waiting", 3)]
    for moved in ("c", "a"):
        eventually(lambda m=moved: mails(mailbox, emails[m], "moved to the waiting list"))
    assert mails(mailbox, emails["d"], "moved to the waiting list") == []

    # more places again: the head of the waiting list gets one, and is told
    rpc.update_event(event["id"], {"capacity": 3}, ACTOR)
    assert statuses(rpc, event["id"])[c["id"]] == ("confirmed", None)
    eventually(lambda: mails(mailbox, emails["c"], "A place has come up"))
    holds_for(lambda: len(mails(mailbox, emails["c"], "A place has come up")) == 1, 0.5, "once")
    assert mails(mailbox, emails["a"], "A place has come up") == []


def test_a_cancelled_place_goes_to_the_first_who_fits_and_they_are_told_once(
    rpc: Any, service: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    event = new_event(rpc, capacity=2)
    emails = {n: address() for n in "abcde"}
    a = register(rpc, event["id"], email=emails["a"])
    register(rpc, event["id"], email=emails["b"])
    c = register(rpc, event["id"], email=emails["c"], places=2)
    d = register(rpc, event["id"], email=emails["d"])
    e = register(rpc, event["id"], email=emails["e"])
    assert (c["position"], d["position"], e["position"]) == (1, 2, 3)
    for who in "abcde":  # each had a confirmation, with their private link
        eventually(lambda w=who: mails(mailbox, emails[w], "/events/registrations/"))
    confirmation = mails(mailbox, emails["a"], "/events/registrations/")[0]
    assert f"{PUBLIC_URL}/events/registrations/{a['manage_code']}" in confirmation.get_content()
    stop = f"{PUBLIC_URL}/events/registrations/stop-emails/{a['receipt_code']}"
    assert str(confirmation["List-Unsubscribe"]).strip() == f"<{stop}>"

    rpc.cancel_registration(a["manage_code"])
    now = statuses(rpc, event["id"])
    assert now[c["id"]] == ("waiting", 1)  # two places: does not fit in one
    assert now[d["id"]] == ("confirmed", None)
    assert now[e["id"]] == ("waiting", 2)
    promotion = eventually(lambda: mails(mailbox, emails["d"], "A place has come up"))[0]
    assert "Wakefield One" in promotion.get_content()
    with entrypoint_hook(service, "send_mail") as send_mail:  # the timer, twice
        send_mail()
        send_mail()
    holds_for(lambda: len(mails(mailbox, emails["d"], "A place has come up")) == 1, 1.0, "once")
    assert mails(mailbox, emails["c"], "A place has come up") == []


# -- time zones -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts_local", "starts_at"),
    [
        ("2026-03-28T10:00", "2026-03-28T10:00:00+00:00"),  # GMT, the day before
        ("2026-03-29T10:00", "2026-03-29T09:00:00+00:00"),  # BST from 01:00 GMT that day
        ("2026-10-24T10:00", "2026-10-24T09:00:00+00:00"),  # still BST
        ("2026-10-25T10:00", "2026-10-25T10:00:00+00:00"),  # GMT again
        ("2026-10-25T01:30", "2026-10-25T00:30:00+00:00"),  # happens twice: the first (BST)
        ("2027-03-28T00:30", "2027-03-28T00:30:00+00:00"),
    ],
)
def test_uk_local_times_are_stored_in_utc_and_come_back_the_same(
    rpc: Any, config: dict[str, Any], starts_local: str, starts_at: str
) -> None:
    ends_local = starts_local[:11] + "23:00"
    created = new_event(rpc, publish=False, starts_local=starts_local, ends_local=ends_local)
    assert created["starts_at"] == starts_at and created["starts_local"] == starts_local
    assert created["ends_local"] == ends_local
    with connect(config["DATABASE_URL"]) as conn:
        stored = conn.execute(
            "SELECT starts_at FROM engagement_events WHERE id = %s", (created["id"],)
        ).fetchone()["starts_at"]
    assert stored == datetime.fromisoformat(starts_at)


def test_an_event_across_the_change_lasts_its_real_length_and_a_skipped_time_is_refused(
    rpc: Any,
) -> None:
    spring = new_event(
        rpc, publish=False, starts_local="2026-03-29T00:30", ends_local="2026-03-29T03:30"
    )
    length = datetime.fromisoformat(spring["ends_at"]) - datetime.fromisoformat(spring["starts_at"])
    assert length == timedelta(hours=2)  # the clocks went forward an hour in between
    autumn = new_event(
        rpc, publish=False, starts_local="2026-10-25T00:30", ends_local="2026-10-25T03:30"
    )
    length = datetime.fromisoformat(autumn["ends_at"]) - datetime.fromisoformat(autumn["starts_at"])
    assert length == timedelta(hours=4)  # and back an hour
    with pytest.raises(ValidationFailed) as failed:
        new_event(rpc, publish=False, starts_local="2026-03-29T01:30")
    assert failed.value.errors == {
        "starts_local": ["does not exist in UK time: the clocks go forward then"]
    }
    with pytest.raises(ValidationFailed) as failed:
        rpc.update_event(spring["id"], {"ends_local": "2027-03-28T01:15"}, ACTOR)
    assert list(failed.value.errors) == ["ends_local"]


# -- mail -------------------------------------------------------------------------------------


def test_a_reminder_goes_once_before_the_start_and_a_change_is_told(
    rpc: Any, service: Any, config: dict[str, Any], mailbox: Mailbox, events: Any
) -> None:
    email, waiting_email, late_email = address(), address(), address()
    event = new_event(
        rpc,
        capacity=2,
        starts_local=local(timedelta(days=3)),
        ends_local=local(timedelta(days=3, hours=1)),
    )
    mine = register(rpc, event["id"], email=email)
    with entrypoint_hook(service, "send_mail") as send_mail:
        send_mail()  # three days ahead: not due
    assert mails(mailbox, email, "Reminder") == []

    # moved to tomorrow morning: both told of the new time; the reminder is now due
    soon = local(timedelta(hours=3))
    changed = rpc.update_event(
        event["id"], {"starts_local": soon, "ends_local": local(timedelta(hours=4))}, ACTOR
    )
    assert changed["starts_local"] == soon
    eventually(lambda: mails(mailbox, email, "the time"), what="the change email")
    # registering now, with the reminder due: the confirmation is the reminder
    late = register(rpc, event["id"], email=late_email)
    waiting = register(rpc, event["id"], email=waiting_email)
    assert (late["status"], waiting["status"]) == ("confirmed", "waiting")
    published = events(
        "engagement_event_changed", where=lambda e: e["engagement_event_id"] == event["id"]
    )[0]
    assert set(published) == set(contract.EVENT_FIELDS["engagement_event_changed"]) | META
    for _ in range(2):
        with entrypoint_hook(service, "send_mail") as send_mail:
            send_mail()
    reminder = eventually(lambda: mails(mailbox, email, "Reminder"), what="the reminder")[0]
    assert "Wakefield One" in reminder.get_content() and "(UK time)" in reminder.get_content()
    holds_for(lambda: len(mails(mailbox, email, "Reminder")) == 1, 1.0, "one reminder")
    assert mails(mailbox, waiting_email, "Reminder") == []  # waiting: no place to remind of
    assert mails(mailbox, late_email, "Reminder") == []
    eventually(lambda: mails(mailbox, late_email, "Your place"), what="the confirmation")
    with connect(config["DATABASE_URL"]) as conn:
        sent = conn.execute(
            "SELECT status FROM notifications WHERE message_key = %s", (f"reminder:{mine['id']}",)
        ).fetchone()
    assert sent["status"] == "sent"


def test_stop_emails_stops_mail_and_forgets_the_address(
    rpc: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    email = address()
    event = new_event(rpc)
    mine = register(
        rpc, event["id"], email=email, contact={"email": email, "phone": "0113 496 0000"}
    )
    eventually(lambda: mails(mailbox, email, "Your place"))
    assert rpc.stop_emails(mine["receipt_code"].lower()) == {
        "receipt_code": mine["receipt_code"],
        "stopped": True,
    }
    assert rpc.get_registration(mine["manage_code"])["contact"] is None
    rpc.cancel_event(event["id"], "The venue flooded", ACTOR)
    holds_for(lambda: mails(mailbox, email, "Cancelled") == [], 1.0, "no email after stop")
    with pytest.raises(NotFound):
        rpc.stop_emails("AAAA-BBBB-CCCC")


def test_cancelling_an_event_tells_everyone_registered(
    rpc: Any, config: dict[str, Any], mailbox: Mailbox, events: Any
) -> None:
    emails = [address(), address()]
    event = new_event(rpc, capacity=1)
    for each in emails:
        register(rpc, event["id"], email=each)
    with pytest.raises(ValidationFailed):
        rpc.cancel_event(event["id"], " ", ACTOR)
    cancelled = rpc.cancel_event(event["id"], "The venue flooded", ACTOR)
    assert (
        cancelled["status"] == "cancelled" and cancelled["cancelled_reason"] == "The venue flooded"
    )
    for each in emails:
        got = eventually(lambda a=each: mails(mailbox, a, "Cancelled"))[0]
        assert "The venue flooded" in got.get_content()
    gone = events(
        "engagement_event_cancelled", where=lambda e: e["engagement_event_id"] == event["id"]
    )[0]
    assert set(gone) == set(contract.EVENT_FIELDS["engagement_event_cancelled"]) | META
    with pytest.raises(Conflict):
        register(rpc, event["id"])
    with pytest.raises(Conflict):
        rpc.update_event(event["id"], {"capacity": 5}, ACTOR)
    assert rpc.cancel_event(event["id"], "again", ACTOR)["cancelled_reason"] == "The venue flooded"


# -- access needs -----------------------------------------------------------------------------


def test_access_needs_late_ones_flagged_and_tracked_by_staff(rpc: Any) -> None:
    # five days ahead: a BSL interpreter needed 14 days' notice, step-free access none
    event = new_event(
        rpc, starts_local=local(timedelta(days=5)), ends_local=local(timedelta(days=5, hours=2))
    )
    assert set(event["book_ahead"]) == set(ics().event_book_ahead_days)
    needs = [
        {"need": "bsl-interpreter"},
        {"need": "step-free-access"},
        {"need": "spoken-language", "detail": "Polish"},
    ]
    mine = register(rpc, event["id"], access_needs=needs)
    assert mine["late_needs"] == ["bsl-interpreter", "spoken-language"]
    assert [(n["need"], n["late"]) for n in mine["access_needs"]] == [
        ("bsl-interpreter", True),
        ("step-free-access", False),
        ("spoken-language", True),
    ]
    listed = rpc.adjustments(event["id"])["adjustments"]
    assert [a["need"] for a in listed] == ["bsl-interpreter", "spoken-language", "step-free-access"]
    assert set(listed[0]) == set(contract.AdjustmentSchema._declared_fields)
    bsl = listed[0]

    with pytest.raises(ValidationFailed) as failed:
        rpc.set_adjustment(bsl["id"], {"state": "not-possible"}, ACTOR)
    assert failed.value.errors == {"reason": ["say why it is not possible"]}
    refused = rpc.set_adjustment(
        bsl["id"], {"state": "not-possible", "reason": "No interpreter free that day"}, ACTOR
    )
    assert (
        refused["state"] == "not-possible" and refused["reason"] == "No interpreter free that day"
    )
    # as the gateway sends it: the schema's dump, reason null
    met = contract.AdjustmentChangeSchema().dump(
        contract.AdjustmentChangeSchema().load({"met": False})
    )
    after = rpc.set_adjustment(bsl["id"], met, ACTOR)
    assert after["reason"] == "No interpreter free that day" and after["met"] is False
    arranged = rpc.set_adjustment(listed[2]["id"], {"state": "arranged"}, ACTOR)
    assert arranged["state"] == "arranged" and arranged["reason"] is None
    with pytest.raises(NotFound):
        rpc.set_adjustment(str(uuid.uuid4()), {"state": "arranged"}, ACTOR)

    # the resident changes their needs: what was arranged stays, the dropped one goes
    changed = rpc.update_registration(
        mine["manage_code"],
        {"access_needs": [{"need": "step-free-access"}, {"need": "large-print"}]},
    )
    assert [(n["need"], n["state"]) for n in changed["access_needs"]] == [
        ("step-free-access", "arranged"),
        ("large-print", "requested"),
    ]
    assert changed["late_needs"] == []


# -- on the day, reach ------------------------------------------------------------------------


def test_attendance_walk_ins_and_reach_through_the_small_number_rule(rpc: Any, events: Any) -> None:
    event = new_event(rpc, place="calderdale", capacity=None)
    loop = [{"need": "hearing-loop"}]
    older = [
        register(rpc, event["id"], equality={"age_band": "65-74"}, access_needs=loop)
        for _ in range(8)
    ]
    middle = [register(rpc, event["id"], equality={"age_band": "45-54"}) for _ in range(5)]
    younger = [register(rpc, event["id"], equality={"age_band": "25-34"}) for _ in range(2)]
    absent = [register(rpc, event["id"]) for _ in range(2)]
    waiting_event = new_event(rpc, place="calderdale", capacity=1)
    register(rpc, waiting_event["id"])
    register(rpc, waiting_event["id"])

    with pytest.raises(ValidationFailed) as failed:
        rpc.record_attendance(event["id"], {"attended": [str(uuid.uuid4())]}, ACTOR)
    assert list(failed.value.errors) == ["attended.0"]
    reach = rpc.record_attendance(
        event["id"],
        {
            "attended": [r["id"] for r in older + middle + younger],
            "absent": [r["id"] for r in absent],
            "walk_ins": [{"places": 3, "equality": {"age_band": "65-74"}}, {"places": 3}],
        },
        ACTOR,
    )
    assert set(reach) == set(contract.ReachSchema._declared_fields)
    assert reach["events"] == 1 and reach["registrations"] == 17
    assert reach["places_registered"] == 17 and reach["walk_ins"] == 6
    # 2 no-shows could pick people out: hidden, and attended with them (17 - 15 = 2)
    assert reach["no_shows"] is None and reach["attended"] is None
    assert reach["no_show_rate"] is None
    assert reach["waiting"] == 0 and reach["threshold"] == ics().small_number_threshold
    assert reach["attendees_by"]["age_band"] == [
        {"value": "25-34", "count": None},  # 2: hidden
        {"value": "45-54", "count": None},  # hidden too, or 2 = 16 - 9 - 5
        {"value": "65-74", "count": 9},  # 8 registered and a walk-in
    ]
    assert reach["access_needs"] == [
        {"need": "hearing-loop", "requested": 8, "arranged": 0, "met": 0}
    ]
    recorded = events(
        "attendance_recorded", where=lambda e: e["engagement_event_id"] == event["id"]
    )[0]
    assert set(recorded) == set(contract.EVENT_FIELDS["attendance_recorded"]) | META
    assert (recorded["attended"], recorded["no_shows"], recorded["walk_ins"]) == (15, 2, 6)

    calderdale = rpc.reach(None, "calderdale")
    assert calderdale["events"] == 2 and calderdale["waiting"] is None  # one waiting: hidden
    assert calderdale["by_place"] == [{"value": "calderdale", "count": 21}]
    everywhere = rpc.reach()
    assert everywhere["events"] >= 2
    with pytest.raises(ValidationFailed):
        rpc.reach(None, "atlantis")
    with pytest.raises(NotFound):
        rpc.reach(str(uuid.uuid4()))


# -- what we heard ----------------------------------------------------------------------------


def test_points_are_redacted_themed_and_published(
    rpc: Any, service: Any, config: dict[str, Any], events: Any
) -> None:
    consultation = str(uuid.uuid4())
    event = new_event(rpc, consultation_ids=[consultation], themes=["transport"])
    with pytest.raises(ValidationFailed) as failed:
        rpc.add_point(event["id"], {"text": "Buses", "themes": ["teleportation"]}, ACTOR)
    assert list(failed.value.errors) == ["themes.0"]

    point = rpc.add_point(
        event["id"],
        {
            "text": "My name is Jane Doe, call 07700 900123: the bus to the hospital never comes",
            "themes": ["transport", "gp-access"],
            "tone": "negative",
            "quote": "Ring me on 07700 900123, the 110 bus is always late",
            "may_quote": True,
        },
        ACTOR,
    )
    assert set(point) == set(contract.PointSchema._declared_fields)
    assert "07700" not in point["text"] and "[phone number removed]" in point["text"]
    assert "Jane Doe" not in point["text"]
    assert point["quote"] == "Ring me on [phone number removed], the 110 bus is always late"
    assert point["place"] == "wakefield" and point["recorded_by"] == ACTOR["name"]
    with connect(config["DATABASE_URL"]) as conn:
        kept = conn.execute(
            "SELECT text_original, redactor_version FROM points WHERE id = %s", (point["id"],)
        ).fetchone()
    assert kept["text_original"].startswith("My name is Jane Doe")
    assert kept["redactor_version"] == REDACTOR_VERSION

    heard = events("point_heard", where=lambda e: e["point_id"] == point["id"])[0]
    assert set(heard) == set(contract.EVENT_FIELDS["point_heard"]) | META
    assert heard["consultation_ids"] == [consultation] and heard["themes"] == [
        "transport",
        "gp-access",
    ]
    assert heard["heard_at"] == event["starts_at"] and "07700" not in str(heard)

    # public: the quote only once approved
    assert rpc.list_points(event["id"], True)["points"][0]["quote"] is None
    approved = rpc.approve_point_quote(point["id"], ACTOR)
    assert approved["quote_approved"] is True
    quoted = events("quote_published", where=lambda e: e["point_id"] == point["id"])[0]
    assert set(quoted) == set(contract.EVENT_FIELDS["quote_published"]) | META
    assert quoted["quote"] == point["quote"] and quoted["consultation_ids"] == [consultation]
    public = rpc.list_points(event["id"], True)["points"][0]
    assert public["quote"] == point["quote"] and public["recorded_by"] == ""
    unquotable = rpc.add_point(event["id"], {"text": "Parking", "quote": "Parking!"}, ACTOR)
    with pytest.raises(Conflict):
        rpc.approve_point_quote(unquotable["id"], ACTOR)
    assert rpc.withdraw_point(unquotable["id"], ACTOR) == {
        "point_id": unquotable["id"],
        "withdrawn": True,
    }
    events("point_withdrawn", where=lambda e: e["point_id"] == unquotable["id"])
    assert [p["id"] for p in rpc.list_points(event["id"])["points"]] == [point["id"]]

    # feedback adds a theme: points may have it (through RabbitMQ, as the outbox sends it)
    saved = {
        "event_id": str(uuid.uuid4()),
        "event_type": "theme_saved",
        "occurred_at": datetime.now(UTC).isoformat(),
        "slug": "estates",
        "label": "Estates",
        "active": True,
        "priority": None,
    }
    event_dispatcher(config)("feedback", "theme_saved", saved)

    def themed() -> Any:
        try:
            return rpc.add_point(
                event["id"], {"text": "Leaking roof", "themes": ["estates"]}, ACTOR
            )
        except ValidationFailed:
            return None

    assert eventually(themed, what="the theme from feedback")["themes"] == ["estates"]
    with entrypoint_hook(service, "on_theme_saved") as handle:
        handle({**saved, "event_id": str(uuid.uuid4()), "active": False})
    with pytest.raises(ValidationFailed):
        rpc.add_point(event["id"], {"text": "Roof", "themes": ["estates"]}, ACTOR)


# -- events published -------------------------------------------------------------------------


def test_event_lifecycle_events_carry_nothing_personal(rpc: Any, events: Any) -> None:
    draft = new_event(rpc, publish=False, title={"en": "Carers' café"})
    assert draft["status"] == "draft"
    assert set(draft) == set(contract.EventSchema._declared_fields)
    listed = [e["id"] for e in rpc.staff_list_events({"include_drafts": True})["events"]]
    assert draft["id"] in listed
    assert draft["id"] not in [e["id"] for e in rpc.list_events()["events"]]
    published = rpc.publish_event(draft["id"], ACTOR)
    assert published["status"] == "published" and published["registration_open"] is True
    assert draft["id"] in [e["id"] for e in rpc.list_events({"place": "wakefield"})["events"]]
    assert draft["id"] not in [e["id"] for e in rpc.list_events({"place": "leeds"})["events"]]
    out = events(
        "engagement_event_published", where=lambda e: e["engagement_event_id"] == draft["id"]
    )[0]
    assert set(out) == set(contract.EVENT_FIELDS["engagement_event_published"]) | META
    assert out["title"] == {"en": "Carers' café"}

    made = register(rpc, draft["id"], email=address(), name="Sam Secret")
    got = events("registration_made", where=lambda e: e["registration_id"] == made["id"])[0]
    assert set(got) == set(contract.EVENT_FIELDS["registration_made"]) | META
    assert "Sam" not in str(got) and "example.com" not in str(got)
    rpc.cancel_registration(made["manage_code"])
    gone = events("registration_cancelled", where=lambda e: e["registration_id"] == made["id"])[0]
    assert set(gone) == set(contract.EVENT_FIELDS["registration_cancelled"]) | META
    with pytest.raises(ValidationFailed) as failed:
        rpc.create_event({"kind": "drop-in", "title": "x"}, {})
    assert {"starts_local", "ends_local", "actor.staff_id"} <= set(failed.value.errors)


# -- privacy ----------------------------------------------------------------------------------


def test_erasure_requests_find_and_erase_a_registration(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    event = new_event(rpc, capacity=1)
    mine = register(
        rpc,
        event["id"],
        email=f"sam.{tag}@example.com",
        name=f"Sam {tag}",
        equality={"age_band": "25-34"},
        access_needs=[{"need": "other", "detail": f"my guide dog {tag}"}],
    )
    after = register(rpc, event["id"])
    found = rpc.find_personal_data(None, tag)
    assert found == {
        "registrations": [
            {
                "registration_id": mine["id"],
                "event_id": event["id"],
                "receipt_code": mine["receipt_code"],
                "registered_at": mine["registered_at"],
                "matches": [
                    {"field": "name", "text": f"Sam {tag}"},
                    {"field": "email", "text": f"sam.{tag}@example.com"},
                    {"field": "access_needs.detail", "text": f"my guide dog {tag}"},
                ],
            }
        ],
        "truncated": False,
    }
    assert rpc.find_personal_data(mine["receipt_code"], None)["registrations"][0]["matches"] == [
        {"field": "receipt_code", "text": mine["receipt_code"]}
    ]
    erased = rpc.erase_registrations([mine["id"], mine["id"], str(uuid.uuid4())])
    assert erased == {"erased": 1, "registration_ids": [mine["id"]]}
    with pytest.raises(NotFound):
        rpc.get_registration(mine["manage_code"])
    assert rpc.find_personal_data(None, tag)["registrations"] == []
    staff = {r["id"]: r for r in rpc.list_registrations(event["id"])["registrations"]}
    assert staff[mine["id"]]["name"] is None and staff[mine["id"]]["contact"] is None
    assert staff[mine["id"]]["status"] == "cancelled"
    assert staff[after["id"]]["status"] == "confirmed"  # the place went to the waiting list
    events("registration_cancelled", where=lambda e: e["registration_id"] == mine["id"])
    with connect(config["DATABASE_URL"]) as conn:
        left = conn.execute(
            "SELECT count(*) AS n FROM registration_equality WHERE registration_id = %s",
            (mine["id"],),
        ).fetchone()
    assert left["n"] == 0
    with pytest.raises(ValidationFailed):
        rpc.erase_registrations(["not-an-id"])


def test_retention_purges_registrations_after_the_event(rpc: Any, config: dict[str, Any]) -> None:
    event = new_event(rpc)
    mine = register(rpc, event["id"], email=address(), equality={"age_band": "45-54"})
    point = rpc.add_point(event["id"], {"text": "Call 07700 900123 about the bus"}, ACTOR)
    ends = datetime.fromisoformat(event["ends_at"])
    days = ics().retention_days["event_registrations"]
    rpc.purge_expired((ends + timedelta(days=days - 1)).isoformat())  # others' may go
    assert rpc.get_registration(mine["manage_code"])["contact"] is not None
    assert rpc.purge_expired((ends + timedelta(days=days + 1)).isoformat())["purged"] >= 1
    with pytest.raises(NotFound):
        rpc.get_registration(mine["manage_code"])
    rows = {r["id"]: r for r in registration_rows(config, event["id"])}
    assert rows[mine["id"]]["name"] is None and rows[mine["id"]]["email"] is None
    assert (
        rows[mine["id"]]["manage_code_hash"] is None and rows[mine["id"]]["status"] == "confirmed"
    )
    with connect(config["DATABASE_URL"]) as conn:
        kept = conn.execute(
            "SELECT text, text_original FROM points WHERE id = %s", (point["id"],)
        ).fetchone()
        equality = conn.execute(
            "SELECT count(*) AS n FROM registration_equality WHERE registration_id = %s",
            (mine["id"],),
        ).fetchone()
    assert kept == {"text": "Call [phone number removed] about the bus", "text_original": None}
    assert equality["n"] == 0
    assert rpc.reach(event["id"])["events"] == 1
    with pytest.raises(ValidationFailed):
        rpc.purge_expired("tomorrow")
