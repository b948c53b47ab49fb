"""The real feedback service on a real RabbitMQ vhost and a real PostgreSQL database,
called over RPC exactly as the gateway calls it, its mail caught by a real SMTP server
(aiosmtpd) on a free local port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook

from engage_common.db import connect
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.messaging import DEAD_LETTER_QUEUE, DurablePublisher
from engage_common.redaction import REDACTOR_VERSION
from engage_common.testing import Mailbox, eventually, holds_for, smtp_server
from engage_contracts import feedback as contract
from engage_contracts.ics import ics
from engage_contracts.reference import consent_wordings, current_consent
from feedback.service import FeedbackService, Mail

CONSENT = {"given": True, "version": current_consent()["version"]}
PUBLIC_URL = "https://engage.test"
ACTOR = {"staff_id": 11, "name": "Tri Age", "role": "triage-officer"}
STAFF = {"staff_id": 12, "name": "En Tered"}
META = {"event_id", "event_type", "occurred_at"}


def mails(box: Mailbox, address: str, containing: str = "") -> list[Any]:
    """What reached ``address`` (and mentions ``containing``)."""
    return [m for m in box.to(address) if containing in m.get_content()]


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
        "DATABASE_URL": make_database("feedback"),
        "max_workers": 10,
        "PUBLIC_URL": PUBLIC_URL,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": mailbox.port,
        "SMTP_FROM": "engage@engage.test",
    }


@pytest.fixture
def service(container_factory: Any, config: dict[str, Any]) -> Any:
    container = container_factory(FeedbackService, config)
    container.start()
    return container


@pytest.fixture
def rpc(service: Any, config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(config, timeout=20) as proxy:
        # themes are seeded as the service starts; suggestions need them
        eventually(lambda: proxy.feedback.list_themes()["themes"], 10, "seeded themes")
        yield proxy.feedback


@pytest.fixture
def events(config: dict[str, Any]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Our own queue bound to ``feedback.events``; ``take(event_type, n, where)``."""
    connection = Connection(config["AMQP_URI"])
    queue = Queue(
        f"test-feedback-events-{uuid.uuid4().hex[:8]}",
        exchange=get_event_exchange("feedback", config),
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


def iso(delta: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def message(**kwargs: Any) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    return {
        "submission_id": sid,
        "receipt_code": "FB-" + sid[:13].upper(),
        "submitted_at": iso(),
        "channel": "online",
        "kind": "concern",
        "about": "Oak Lane surgery",
        "text": "The surgery was fine.",
        "consent": CONSENT,
        **kwargs,
    }


def imported(**kwargs: Any) -> dict[str, Any]:
    return message(**{"channel": "partner", "entered_by": STAFF, **kwargs})


def submit(config: dict[str, Any], body: dict[str, Any]) -> None:
    DurablePublisher(config["AMQP_URI"]).submit("feedback", body, message_id=body["submission_id"])


def receipt(rpc: Any, code: str) -> Any:
    """The receipt once feedback has the message (None while it is still queued)."""
    try:
        return rpc.get_receipt(code)
    except NotFound:
        return None


def store(rpc: Any, config: dict[str, Any], body: dict[str, Any]) -> str:
    """Queue ``body``, wait until it is stored; its feedback id."""
    submit(config, body)
    assert eventually(lambda: receipt(rpc, body["receipt_code"]))["status"] == "received"
    return feedback_id(config, body["receipt_code"])


def feedback_id(config: dict[str, Any], code: str) -> str:
    with connect(config["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT id FROM feedback_items WHERE receipt_code = %s", (code,))
        return str(row.fetchone()["id"])


def count_items(config: dict[str, Any], where: str, *params: Any) -> int:
    with connect(config["DATABASE_URL"]) as conn:
        row = conn.execute(f"SELECT count(*) AS n FROM feedback_items WHERE {where}", params)
        return int(row.fetchone()["n"])


def test_health(rpc: Any) -> None:
    assert rpc.health() == {"service": "feedback", "database": True}


def test_health_fails_when_the_database_is_gone(
    container_factory: Any, config: dict[str, Any]
) -> None:
    broken = {**config, "DATABASE_URL": config["DATABASE_URL"] + "_missing"}
    container_factory(FeedbackService, broken).start()
    with ClusterRpcProxy(broken, timeout=10) as cluster, pytest.raises(Exception) as caught:
        cluster.feedback.health()
    assert "does not exist" in str(caught.value)


# -- intake -----------------------------------------------------------------------------------


def test_feedback_is_stored_once_redacted_with_the_original_kept(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    body = message(
        about="Dr Patel at Oak Lane",
        text="My name is Jane Doe, call 07700 900123. I waited weeks for a GP appointment.",
        email="jane.doe@example.com",
        reply_by="email",
        equality={"age_band": "25-34"},
        postcode_district="ls6",
        may_quote=True,
    )
    submit(config, body)
    submit(config, body)  # the gateway retried: the same submission_id
    got = eventually(lambda: receipt(rpc, body["receipt_code"]))
    assert got == {
        "receipt_code": body["receipt_code"],
        "status": "received",
        "kind": "concern",
        "submitted_at": datetime.fromisoformat(body["submitted_at"]).isoformat(),
        "public_reply": None,
        "replied_at": None,
        "reasons": [],
    }
    marker = message()
    store(rpc, config, marker)  # the copy ahead of it has been handled by now
    assert count_items(config, "submission_id = %s", body["submission_id"]) == 1

    fid = feedback_id(config, body["receipt_code"])
    item = rpc.get_item(fid)
    assert set(item) == set(contract.FeedbackItemSchema().fields)  # the contract's shape
    assert item["text"] == (
        "My name is [name removed], call [phone number removed]. "
        "I waited weeks for a GP appointment."
    )
    assert item["about"] == "Dr [name removed] at Oak Lane"
    assert item["original_text"] is None and item["redactions"] == ["name", "phone"]
    assert item["redactor_version"] == REDACTOR_VERSION and item["language_check"] == "checked"
    assert item["place"] == "leeds" and item["postcode_district"] == "LS6"
    assert item["status"] == "received" and item["version"] == 1 and item["themes"] == []
    assert {"theme": "gp-access", "label": "GP access", "because": ["gp", "appointment"]} in item[
        "suggested_themes"
    ]
    assert item["safeguarding"] == {"urgent": False, "categories": [], "matches": []}
    assert [(h["by"], h["action"]) for h in item["history"]] == [(None, "received")]
    assert rpc.get_item(fid, True)["original_text"] == body["text"]

    mine = rpc.get_my_feedback(body["receipt_code"].lower() + " ")
    assert set(mine) == set(contract.MyFeedbackSchema().fields)
    assert mine["text"] == body["text"] and mine["about"] == body["about"]
    assert mine["email"] == "jane.doe@example.com" and mine["reply_by"] == "email"
    assert mine["equality"] == {"age_band": "25-34"} and mine["equality_version"]
    assert mine["consent"]["wording"] == consent_wordings()[CONSENT["version"]]

    event = events("feedback_received", where=lambda e: e["feedback_id"] == fid)[0]
    assert set(event) == set(contract.EVENT_FIELDS["feedback_received"]) | META
    assert event["place"] == "leeds" and event["urgent"] is False
    with connect(config["DATABASE_URL"]) as conn:  # the address lives apart from the item
        row = conn.execute("SELECT email FROM feedback_contacts WHERE feedback_id = %s", (fid,))
        assert row.fetchone()["email"] == "jane.doe@example.com"


def test_malformed_messages_are_rejected_or_dead_lettered(rpc: Any, config: dict[str, Any]) -> None:
    shaped_wrong = {**message(), "kind": "rant", "colour": "red"}
    submit(config, shaped_wrong)
    got = eventually(lambda: receipt(rpc, shaped_wrong["receipt_code"]))
    assert got["status"] == "rejected" and got["kind"] is None
    assert "colour: is not a field we know about" in got["reasons"]
    assert any(r.startswith("kind: ") for r in got["reasons"])
    no_consent = message(consent={"given": False, "version": CONSENT["version"]})
    submit(config, no_consent)
    got = eventually(lambda: receipt(rpc, no_consent["receipt_code"]))
    assert got["status"] == "rejected" and got["reasons"][0].startswith("consent.given: ")

    # Nothing to record it under: retried, then kept on the dead-letter queue.
    DurablePublisher(config["AMQP_URI"]).submit("feedback", {"hello": "world"}, message_id="x")
    with Connection(config["AMQP_URI"]) as connection:
        dead = DEAD_LETTER_QUEUE(connection.default_channel)
        dead.declare()
        got = eventually(lambda: dead.get(no_ack=True))
    assert got.payload == {"hello": "world"}
    assert got.headers["x-engage-original-queue"] == "feedback.submissions"
    assert "unidentifiable submission" in got.headers["x-engage-error"]


def test_imports_are_stored_once_by_source_id_or_content(rpc: Any, config: dict[str, Any]) -> None:
    tag = uuid.uuid4().hex[:8]
    first = imported(source_id=f"row-{tag}", text="Parking is impossible")
    store(rpc, config, first)
    again = imported(source_id=f"row-{tag}", text="Parking is impossible, edited")
    submit(config, again)
    got = eventually(lambda: receipt(rpc, again["receipt_code"]))
    assert got["status"] == "duplicate"
    assert got["reasons"] == ["the same row (source_id) was already imported"]
    assert count_items(config, "source_id = %s", f"row-{tag}") == 1

    letter = imported(channel="letter", content_hash=f"hash-{tag}", text="A letter")
    store(rpc, config, letter)
    copy = imported(channel="letter", content_hash=f"hash-{tag}", text="A letter")
    submit(config, copy)
    assert eventually(lambda: receipt(rpc, copy["receipt_code"]))["status"] == "duplicate"
    # two residents may write the same words: their own feedback is never a duplicate
    resident = message(content_hash=f"hash-{tag}", text="A letter")
    store(rpc, config, resident)
    assert count_items(config, "content_hash = %s", f"hash-{tag}") == 2


# -- safeguarding and mail --------------------------------------------------------------------


def test_an_urgent_item_alerts_the_safeguarding_contact_once(
    rpc: Any, service: Any, config: dict[str, Any], events: Any, mailbox: Mailbox
) -> None:
    contact = ics().safeguarding["email"]
    urgent = message(text="I want to end my life, nobody at the surgery listens")
    ordinary = message(text="The bus to the hospital is always late")
    urgent_id, ordinary_id = store(rpc, config, urgent), store(rpc, config, ordinary)
    alerts = eventually(lambda: mails(mailbox, contact, urgent_id), what="the safeguarding alert")
    assert len(alerts) == 1
    alert = alerts[0]
    assert "suicide" in alert["Subject"]
    assert f"{PUBLIC_URL}/api/v1/staff/feedback/{urgent_id}" in alert.get_content()
    assert "end my life" not in alert.as_string() and "surgery" not in alert.get_content()
    flagged = events("safeguarding_flagged", where=lambda e: e["feedback_id"] == urgent_id)[0]
    assert set(flagged) == set(contract.EVENT_FIELDS["safeguarding_flagged"]) | META
    assert flagged["categories"] == ["suicide"]
    queue = [i["id"] for i in rpc.safeguarding_queue()["items"]]
    assert urgent_id in queue and ordinary_id not in queue

    submit(config, urgent)  # redelivered
    with entrypoint_hook(service, "send_pending_mail") as send_pending_mail:
        send_pending_mail()
    holds_for(lambda: len(mails(mailbox, contact, urgent_id)) == 1, 1.0, "one alert only")
    assert mails(mailbox, contact, ordinary_id) == []
    history = [h["action"] for h in rpc.get_item(urgent_id)["history"]]
    assert history == ["received", "flagged urgent", "safeguarding contact alerted"]


class OneAttemptService(FeedbackService):
    """The service with a notifier that tries each message once, so a refused one is left
    for ``send_pending_mail`` at once rather than after the notifier's pauses."""

    mail = Mail(attempts=1)


def test_an_alert_the_mail_server_refused_goes_later_and_once(
    container_factory: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    contact = ics().safeguarding["email"]
    container = container_factory(OneAttemptService, config)
    container.start()
    mailbox.refuse = 1  # the next message gets "451 try again later"
    with ClusterRpcProxy(config, timeout=20) as proxy:
        fid = store(proxy.feedback, config, message(text="I have been cutting myself again"))

    def refused() -> bool:
        with connect(config["DATABASE_URL"]) as conn:
            row = conn.execute(
                "SELECT status FROM notifications WHERE message_key = %s",
                (f"safeguarding:{fid}",),
            ).fetchone()
        return bool(row and row["status"] == "failed")

    eventually(refused, what="the refused first attempt")
    assert mails(mailbox, contact, fid) == []
    for _ in range(2):
        with entrypoint_hook(container, "send_pending_mail") as send_pending_mail:
            send_pending_mail()
    assert len(mails(mailbox, contact, fid)) == 1


def test_a_reply_is_emailed_once_and_stop_emails_stops_the_next(
    rpc: Any, service: Any, config: dict[str, Any], mailbox: Mailbox
) -> None:
    address = f"resident.{uuid.uuid4().hex[:8]}@example.com"
    body = message(reply_by="email", email=address, text="Thank you, the nurse was lovely")
    fid = store(rpc, config, body)
    item = rpc.get_item(fid)
    assert item["suggested_tone"] == "positive"
    answered = rpc.respond(
        fid, {"version": item["version"], "text": "Thank you, we told her"}, ACTOR
    )
    assert (
        answered["status"] == "responded" and answered["public_reply"] == "Thank you, we told her"
    )
    mail = eventually(lambda: mails(mailbox, address), what="the reply email")[0]
    stop = f"{PUBLIC_URL}/feedback/receipts/{body['receipt_code']}/stop-emails"
    assert "Thank you, we told her" in mail.get_content() and stop in mail.get_content()
    assert mail["List-Unsubscribe"].strip() == f"<{stop}>"
    got = rpc.get_receipt(body["receipt_code"])
    assert got["status"] == "responded" and got["public_reply"] == "Thank you, we told her"
    assert got["replied_at"] is not None
    with entrypoint_hook(service, "send_pending_mail") as send_pending_mail:
        send_pending_mail()
    holds_for(lambda: len(mails(mailbox, address)) == 1, 0.5, "one reply email")

    assert rpc.stop_emails(body["receipt_code"]) == {
        "receipt_code": body["receipt_code"],
        "stopped": True,
    }
    again = rpc.respond(fid, {"version": answered["version"], "text": "One more thing"}, ACTOR)
    assert again["public_reply"] == "One more thing"
    holds_for(lambda: len(mails(mailbox, address)) == 1, 1.0, "no email after stop_emails")
    actions = [h["action"] for h in rpc.get_item(fid)["history"]]
    assert actions == ["received", "replied", "reply emailed", "resident stopped emails", "replied"]
    # Kept only to reply, the address goes when the resident stops emails.
    assert rpc.get_my_feedback(body["receipt_code"])["email"] is None
    with pytest.raises(NotFound):
        rpc.stop_emails("NO-SUCH-CODE")


# -- staff: workflow --------------------------------------------------------------------------


def test_two_changes_at_once_one_wins_and_nothing_is_lost(rpc: Any, config: dict[str, Any]) -> None:
    fid = store(rpc, config, message(text="The bus never comes and I missed my GP appointment"))
    version = rpc.get_item(fid)["version"]
    first = {"version": version, "status": "triaged", "themes": ["gp-access"]}
    second = {"version": version, "tone": "negative", "themes": ["transport"]}
    outcomes: dict[str, Any] = {}
    with (
        ClusterRpcProxy(config, timeout=20) as one,
        ClusterRpcProxy(config, timeout=20) as two,
    ):

        def change(name: str, proxy: Any, payload: dict[str, Any]) -> None:
            try:
                outcomes[name] = proxy.feedback.triage(fid, payload, ACTOR)
            except Conflict as exc:
                outcomes[name] = exc

        threads = [
            eventlet.spawn(change, "first", one, first),
            eventlet.spawn(change, "second", two, second),
        ]
        for thread in threads:
            thread.wait()
    conflicts = [n for n, o in outcomes.items() if isinstance(o, Conflict)]
    winners = [n for n, o in outcomes.items() if not isinstance(o, Conflict)]
    assert len(conflicts) == 1 and len(winners) == 1, outcomes
    assert "changed by someone else" in outcomes[conflicts[0]].message
    now = rpc.get_item(fid)
    assert now["version"] == version + 1 and now == outcomes[winners[0]]
    assert [h["action"] for h in now["history"]].count("triaged") == 1

    # the loser reads again and redoes its change: both are there
    retry = {**(first if conflicts[0] == "first" else second), "version": now["version"]}
    final = rpc.triage(fid, retry, ACTOR)
    assert final["version"] == version + 2 and final["status"] == "triaged"
    assert final["tone"] in (None, "negative") and final["themes"] == retry["themes"]


def test_workflow_moves_quotes_and_bulk_changes(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    fid = store(rpc, config, message(text="Great nurses. Dr Patel was kind.", may_quote=True))
    item = rpc.get_item(fid)
    with pytest.raises(Conflict):
        rpc.triage(fid, {"version": item["version"] + 5, "status": "triaged"}, ACTOR)
    with pytest.raises(ValidationFailed) as bad:
        rpc.triage(fid, {"version": item["version"], "themes": ["no-such-theme"]}, ACTOR)
    assert bad.value.errors == {"themes.0": ["is not a theme in use: see list_themes"]}
    with pytest.raises(ValidationFailed) as bad:
        rpc.triage(fid, {"status": "triaged"}, {"name": "x"})
    assert set(bad.value.errors) == {"version", "actor.staff_id", "actor.role"}
    closed = rpc.triage(fid, {"version": item["version"], "status": "closed", "note": "ok"}, ACTOR)
    with pytest.raises(Conflict, match="cannot become responded"):
        rpc.respond(fid, {"version": closed["version"], "text": "x"}, ACTOR)
    reopened = rpc.triage(fid, {"version": closed["version"], "status": "triaged"}, ACTOR)
    assert reopened["history"][-1]["by"] == "Tri Age"
    assert reopened["history"][-2]["detail"]["note"] == "ok"
    statuses = events("feedback_status_changed", 2, lambda e: e["feedback_id"] == fid)
    assert [e["status"] for e in statuses] == ["closed", "triaged"]

    with pytest.raises(ValidationFailed):
        rpc.approve_quote(fid, {"version": reopened["version"], "text": "Dr Patel was kind"}, ACTOR)
    quoted = rpc.approve_quote(
        fid, {"version": reopened["version"], "text": "Great nurses."}, ACTOR
    )
    assert quoted["quote"] == "Great nurses."
    shy = store(rpc, config, message(text="Fine"))
    with pytest.raises(Conflict, match="did not agree"):
        rpc.approve_quote(shy, {"version": 1, "text": None}, ACTOR)

    rpc.triage(shy, {"version": 1, "status": "closed"}, ACTOR)
    other = store(rpc, config, message(text="Another"))
    missing = str(uuid.uuid4())
    done = rpc.bulk(
        {"feedback_ids": [other, shy, missing], "status": "responded", "add_themes": ["carers"]},
        ACTOR,
    )
    assert done == {"changed": [other], "conflicts": [shy, missing]}
    with pytest.raises(ValidationFailed):
        rpc.bulk({"feedback_ids": [other]}, ACTOR)
    assert rpc.get_item(other)["themes"] == ["carers"]
    themed = events("feedback_themed", where=lambda e: e["feedback_id"] == other)[0]
    assert themed["themes"] == ["carers"]


def test_the_triage_queue_puts_urgent_and_unread_languages_first(
    rpc: Any, config: dict[str, Any]
) -> None:
    plain = store(
        rpc,
        config,
        message(text="The car park is full every morning", submitted_at=iso(-timedelta(days=3))),
    )
    polish = store(
        rpc, config, message(text="Bardzo długo czekałem na wizytę u lekarza, nie jest dobrze")
    )
    assert rpc.get_item(polish)["language_check"] == "not-checked-automatically"
    order, after = [], None
    while True:
        page = rpc.triage_queue(after, 2)
        order += [i["id"] for i in page["items"]]
        if not (after := page["next"]):
            break
    assert len(order) == len(set(order)) and order.index(polish) < order.index(plain)
    queue = rpc.triage_queue(None, 100)["items"]
    attention = [i["safeguarding"]["urgent"] or i["language_check"] != "checked" for i in queue]
    assert attention == sorted(attention, reverse=True)
    assert rpc.get_item(plain)["waited_days"] == 3


# -- themes -----------------------------------------------------------------------------------


def test_themes_seeded_from_the_configuration_and_staff_changes_published(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    themes = {t["slug"]: t for t in rpc.list_themes()["themes"]}
    for priority in ics().priorities:
        assert themes[contract.theme_slug(priority.name)]["source"] == "priority"
        for ambition in priority.ambitions:
            assert themes[contract.theme_slug(ambition)]["source"] == "ambition"
    assert (
        themes["gp-access"]["source"] == "common"
        and "appointment" in themes["gp-access"]["keywords"]
    )

    tag = uuid.uuid4().hex[:6]
    created = rpc.create_theme(
        {"label": f"Pharmacy {tag}", "keywords": ["Pharmacy", "chemist"]}, ACTOR
    )
    slug = f"pharmacy-{tag}"
    assert created == {
        "slug": slug,
        "label": f"Pharmacy {tag}",
        "description": "",
        "keywords": ["pharmacy", "chemist"],
        "priority": None,
        "source": "staff",
        "active": True,
    }
    saved = events("theme_saved", where=lambda e: e["slug"] == slug)[0]
    assert set(saved) == set(contract.EVENT_FIELDS["theme_saved"]) | META
    with pytest.raises(Conflict):
        rpc.create_theme({"label": f"pharmacy {tag}!"}, ACTOR)

    fid = store(rpc, config, message(text="The chemist ran out of my prescription; waited weeks"))
    item = rpc.get_item(fid)
    suggested = {s["theme"]: s["because"] for s in item["suggested_themes"]}
    assert suggested[slug] == ["chemist"] and suggested["waiting-times"] == ["waited", "weeks"]
    confirmed = rpc.triage(fid, {"version": item["version"], "themes": [slug]}, ACTOR)
    themed = events("feedback_themed", where=lambda e: e["feedback_id"] == fid)[0]
    assert themed["themes"] == [slug]  # confirmed only, never the suggestions
    assert set(themed) == set(contract.EVENT_FIELDS["feedback_themed"]) | META

    retired = rpc.update_theme(slug, {"label": "Chemists", "active": False}, ACTOR)
    assert retired["slug"] == slug and retired["label"] == "Chemists" and not retired["active"]
    assert events("theme_saved", 2, lambda e: e["slug"] == slug)[-1]["active"] is False
    assert slug not in {t["slug"] for t in rpc.list_themes()["themes"]}
    assert slug in {t["slug"] for t in rpc.list_themes(True)["themes"]}
    # a retired theme stays where it was confirmed, but is added nowhere new
    kept = rpc.triage(fid, {"version": confirmed["version"], "themes": [slug, "carers"]}, ACTOR)
    assert kept["themes"] == [slug, "carers"]
    other = store(rpc, config, message(text="chemist"))
    assert slug not in [s["theme"] for s in rpc.get_item(other)["suggested_themes"]]
    with pytest.raises(ValidationFailed):
        rpc.triage(other, {"version": 1, "themes": [slug]}, ACTOR)
    with pytest.raises(NotFound):
        rpc.update_theme("no-such-theme", {"active": False}, ACTOR)
    with pytest.raises(ValidationFailed):
        rpc.list_themes("yes")


# -- search -----------------------------------------------------------------------------------


def test_search_stems_filters_and_pages(rpc: Any, config: dict[str, Any]) -> None:
    cid = str(uuid.uuid4())
    same_moment = iso(-timedelta(hours=1))
    rows = [
        message(text="I missed my appointment", place="leeds", submitted_at=same_moment),
        message(text="Appointments are impossible to get", kind="idea", submitted_at=same_moment),
        message(text="My name is Jane Smith. The bus was late", submitted_at=same_moment),
        imported(channel="phone", text="Phoned about the car park", place="wakefield"),
        message(text="I want to end my life", submitted_at=iso(-timedelta(days=2))),
        message(text="Waiting room was cold", submitted_at=iso(-timedelta(days=10))),
        message(text="Thank you to the ward staff", submitted_at=iso(-timedelta(days=30))),
    ]
    ids = [store(rpc, config, {**row, "consultation_id": cid}) for row in rows]

    def found(**query: Any) -> list[str]:
        return [i["id"] for i in rpc.search({"consultation_id": cid, **query})["items"]]

    assert set(found(q="appointments")) == {ids[0], ids[1]}  # stemmed: "appointment" too
    assert found(q="Jane") == [] and found(q="bus") == [ids[2]]  # redacted words only
    assert found(place="wakefield") == [ids[3]] and found(channel="phone") == [ids[3]]
    assert found(kind="idea") == [ids[1]] and found(urgent=True) == [ids[4]]
    assert found(overdue=True) == [ids[5], ids[6]]
    assert found(received_from=iso(-timedelta(days=11)), received_to=iso(-timedelta(days=1))) == [
        ids[4],
        ids[5],
    ]
    rpc.triage(ids[6], {"version": 1, "status": "triaged", "themes": ["carers"]}, ACTOR)
    assert found(status="triaged") == [ids[6]] and found(theme="carers") == [ids[6]]
    assert found(overdue=True) == [ids[5], ids[6]]  # 30 days: past the reply target too
    assert set(found(overdue=False)) == set(ids[:5])

    pages, after = [], None
    while True:
        page = rpc.search({"consultation_id": cid, "limit": 2, "after": after})
        pages.append(page["items"])
        if not (after := page["next"]):
            break
    listed = [i["id"] for p in pages for i in p]
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert sorted(listed) == sorted(ids)  # every item once, none missed
    moments = [i["received_at"] for p in pages for i in p]
    assert moments == sorted(moments, reverse=True)
    listed_fields = set(contract.FeedbackItemSchema().fields) - {"original_text", "history"}
    assert all(set(i) == listed_fields for p in pages for i in p)  # redacted text only
    assert all(i["overdue"] for i in pages[-1]) and pages[-1][0]["waited_days"] == 30
    with pytest.raises(ValidationFailed) as bad:
        rpc.search({"after": "not-a-cursor"})
    assert set(bad.value.errors) == {"after"}
    with pytest.raises(ValidationFailed):
        rpc.search({"limit": 500, "colour": "red"})


# -- privacy ----------------------------------------------------------------------------------


def test_erasure_requests_and_deleting_my_feedback(
    rpc: Any, config: dict[str, Any], events: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    body = message(text=f"Sam {tag} here", email=f"sam.{tag}@example.com", reply_by="email")
    fid = store(rpc, config, body)
    by_text = rpc.find_personal_data(None, f"sam.{tag}")
    assert by_text == {
        "items": [
            {
                "feedback_id": fid,
                "receipt_code": body["receipt_code"],
                "submitted_at": datetime.fromisoformat(body["submitted_at"]).isoformat(),
                "matches": [{"field": "email", "text": f"sam.{tag}@example.com"}],
            }
        ],
        "truncated": False,
    }
    assert rpc.find_personal_data(body["receipt_code"], None)["items"][0]["feedback_id"] == fid
    assert rpc.find_personal_data(None, tag)["items"][0]["matches"][0]["field"] == "text"
    assert rpc.erase_feedback([fid, fid, str(uuid.uuid4())]) == {"erased": 1, "feedback_ids": [fid]}
    with pytest.raises(NotFound):
        rpc.get_item(fid)
    assert events("feedback_deleted", where=lambda e: e["feedback_id"] == fid)[0].keys() == (
        set(contract.EVENT_FIELDS["feedback_deleted"]) | META
    )
    with pytest.raises(ValidationFailed):
        rpc.erase_feedback(["not-an-id"])

    mine = message(text="Delete me")
    other = store(rpc, config, mine)
    assert rpc.delete_my_feedback(mine["receipt_code"]) == {
        "receipt_code": mine["receipt_code"],
        "deleted": True,
    }
    with pytest.raises(NotFound):
        rpc.get_my_feedback(mine["receipt_code"])
    events("feedback_deleted", where=lambda e: e["feedback_id"] == other)


def test_retention_purges_personal_details_of_closed_feedback(
    rpc: Any, config: dict[str, Any]
) -> None:
    details = {
        "text": "Call me on 07700 900123 about the bus",
        "email": f"p.{uuid.uuid4().hex[:6]}@example.com",
        "reply_by": "email",
        "equality": {"age_band": "65-74"},
        "postcode_district": "WF1",
    }
    closed_body, open_body = message(**details), message(**details)
    closed, still_open = store(rpc, config, closed_body), store(rpc, config, open_body)
    rpc.triage(closed, {"version": 1, "status": "closed", "themes": ["transport"]}, ACTOR)
    days = ics().retention_days["feedback"]
    assert rpc.purge_expired(iso(timedelta(days=days - 1)))["purged"] == 0
    assert rpc.purge_expired(iso(timedelta(days=days + 1)))["purged"] >= 1  # others closed too

    purged = rpc.get_my_feedback(closed_body["receipt_code"])
    assert purged["text"] == "Call me on [phone number removed] about the bus"
    assert purged["email"] is None and purged["equality"] is None
    assert purged["postcode_district"] is None and purged["place"] == "wakefield"
    item = rpc.get_item(closed, True)
    assert item["original_text"] is None and item["themes"] == ["transport"]
    assert item["channel"] == "online" and item["history"][-1]["action"].startswith("personal")
    assert rpc.get_my_feedback(open_body["receipt_code"])["email"] == details["email"]
    assert rpc.get_item(still_open, True)["original_text"] == details["text"]
    assert rpc.purge_expired(iso(timedelta(days=days + 1)))["purged"] == 0
    with pytest.raises(ValidationFailed):
        rpc.purge_expired("tomorrow")
