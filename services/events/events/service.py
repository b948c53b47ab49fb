"""nameko entrypoints for events: each loads its arguments with the contract's schemas
(``engage_contracts.events``), asks ``domain`` what to do, persists with ``store`` in one
transaction, recording events through the outbox in that same transaction, and returns
the contract's shapes (``schemas``).

Fair filling: registering, cancelling and changing an event's capacity each take the
event's row lock first and count its places after it, in the same transaction, so
capacity is never exceeded however many register at once, and the waiting list keeps the
order people arrived in.

Mail to registrants (a promotion, a change, a cancellation, a reminder) is queued in
``pending_mail`` in the transaction of the change and sent after it commits, through the
notifier (``engage_common.notify``: each message key once, never to an address that
opted out); what could not go is tried again by a timer. The confirmation is the one
message sent straight away, since only it carries the private link (the manage code is
never stored)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import eventlet
import eventlet.semaphore
from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from psycopg import Connection

from engage_common import healthcheck, notify, outbox
from engage_common.db import Database, Pool
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.logs import EXPECTED
from engage_common.messaging import claim_message, event_handler, rpc
from engage_common.observability import Observability
from engage_common.outbox import OutboxRelay, record_event
from engage_common.redaction import Redactor
from engage_contracts import events as contract
from engage_contracts.base import load
from engage_contracts.feedback import ActorSchema
from engage_contracts.ics import ics
from engage_contracts.privacy import (
    PersonalDataSearchSchema,
    PurgeExpiredSchema,
    ReceiptCodeSchema,
)
from engage_contracts.reference import places, validate_equality
from events import domain, schemas, store

log = logging.getLogger(__name__)
SOURCE = "events"
FEEDBACK = "feedback"  # the service whose theme_saved events keep events' copy of themes
LIST_LIMIT = 500
SEARCH_LIMIT = 200
PURGE_BATCH = 500
MAIL_BATCH = 50
MAIL_MAX_ATTEMPTS = 20  # then a message is given up (logged), about 20 minutes of tries
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
NO_EVENT = "There is no event with id {}"
NO_REGISTRATION = "We do not hold a registration with that code"

Json = dict[str, Any]
BACKGROUND_SENDER = eventlet.semaphore.Semaphore(1)


def _now() -> datetime:
    return datetime.now(UTC)


class Mail(DependencyProvider):
    """The notifier over the service's own database: each message key is sent once, and
    never to an address that asked for no more mail. SMTP or GOV.UK Notify by the
    settings (``notify.sender_from_settings``); a logging sender without them."""

    def __init__(self, database_attr: str = "db", attempts: int = 4, backoff: float = 1.0) -> None:
        """``attempts`` and ``backoff``: the notifier's, per message and call; what is still
        unsent after them waits for ``send_mail``."""
        self.database_attr = database_attr
        self.attempts, self.backoff = attempts, backoff

    def setup(self) -> None:
        self.sender = notify.sender_from_settings(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> notify.Notifier:
        database = next(d for d in self.container.dependencies if d.attr_name == self.database_attr)
        return notify.Notifier(database.pool, self.sender, self.attempts, self.backoff)


def send_queued(pool: Pool, mail: notify.Notifier, public_url: str, keys: Sequence[str]) -> int:
    """Send queued emails (``pending_mail``) by key, each at most once, to the address the
    registration holds now (none: the message is dropped). One that fails stays queued
    for the timer, until ``MAIL_MAX_ATTEMPTS``. The number sent."""
    sent = 0
    for key in keys:
        with pool.connection() as conn:
            if not store.try_lock(conn, f"events-mail:{key}"):
                continue
            row = store.pending_mail(conn, key)
            if row is None:
                continue
            if row["email"] is None:
                store.mail_done(conn, key)
                continue
            stop = domain.stop_url(public_url, row["receipt_code"])
            try:
                outcome = mail.send(key, row["email"], row["subject"], row["body"], stop)
            except Exception:
                log.exception("email %s not sent; will retry", key)
                if row["attempts"] + 1 >= MAIL_MAX_ATTEMPTS:
                    log.error("email %s given up after %d attempts", key, MAIL_MAX_ATTEMPTS)
                    store.mail_done(conn, key)
                else:
                    store.mail_failed(conn, key)
                continue
            store.mail_done(conn, key)
            sent += outcome == notify.SENT
    return sent


class EventsService(healthcheck.HealthCheck, outbox.EventReplay):
    name = "events"

    db = Database()
    obs = Observability()  # correlation ids, a log line a call, metrics (METRICS_PORT)
    relay = OutboxRelay()  # publishes what the outbox holds
    redact = Redactor()  # free text redacted off the hub, the redactor built at start
    mail = Mail()
    config = Config()

    # -- helpers ------------------------------------------------------------------------------

    def _public_url(self) -> str:
        return str(self.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL)

    def _event_id(self, event_id: Any) -> str:
        eid = domain.canonical_id(event_id)
        if eid is None:
            raise NotFound(NO_EVENT.format(event_id))
        return eid

    def _locked(self, conn: Connection, event_id: Any) -> Json:
        eid = self._event_id(event_id)
        event = store.lock_event(conn, eid)
        if event is None:
            raise NotFound(NO_EVENT.format(eid))
        return event

    def _event(self, conn: Connection, event_id: Any, public: bool = False) -> Json:
        """An event with its counts; a draft is not there for the public."""
        eid = self._event_id(event_id)
        event = store.get_event(conn, eid)
        if event is None or (public and event["status"] == "draft"):
            raise NotFound(NO_EVENT.format(eid))
        return event

    def _with_actor(self, schema: Any, data: Any, actor: Any) -> tuple[Json, Json]:
        """A staff request's argument and who is acting, every error of both at once."""
        errors: dict[str, Any] = {}
        loaded = []
        for each, value, prefix in ((schema, data, ""), (ActorSchema(), actor, "actor")):
            try:
                loaded.append(load(each, value, prefix=prefix))
            except ValidationFailed as failed:
                errors.update(failed.errors)
        if errors:
            raise ValidationFailed(errors)
        return loaded[0], loaded[1]

    def _shown(self, conn: Connection, event_id: str, now: datetime) -> Json:
        return schemas.event(store.get_event(conn, event_id), now)

    def _mine(self, conn: Connection, row: Json, event: Json, code: str | None) -> Json:
        """A registration as its resident sees it."""
        needs = store.needs_of(conn, [str(row["id"])])[str(row["id"])]
        return schemas.registration(row, needs, store.position(conn, row), event, code)

    def _by_code(self, conn: Connection, manage_code: Any) -> Json:
        code = domain.readable_manage_code(manage_code)
        row = store.by_manage_code(conn, domain.code_hash(code)) if code else None
        if row is None:
            raise NotFound(NO_REGISTRATION)
        return row

    def _queue(
        self, conn: Connection, kind: str, row: Json, which: Any, mail: tuple[str, str]
    ) -> list[str]:
        """Queue an email to a registrant (if they gave an address); its key, as a list."""
        if not row["email"]:
            return []
        key = f"{kind}:{row['id']}" + ("" if which is None else f":{which}")
        store.queue_mail(conn, key, str(row["id"]), *mail)
        return [key]

    def _send_later(self, keys: Sequence[str]) -> None:
        """Send queued emails once the transaction has committed, without keeping the
        caller waiting for the mail server (the timer sends whatever this does not)."""
        if keys:
            eventlet.spawn_n(self._send_quietly, self.db, self.mail, self._public_url(), keys)

    @staticmethod
    def _send_quietly(pool: Pool, mail: notify.Notifier, url: str, keys: Sequence[str]) -> None:
        """One background sender at a time: sending holds two of the pool's connections
        (the message's lock, the notifier's record), and workers need theirs."""
        try:
            with BACKGROUND_SENDER:
                send_queued(pool, mail, url, keys)
        except Exception:
            log.exception("queued email not sent; the timer will retry")

    def _promote(
        self, conn: Connection, event: Json, quiet: Sequence[str] = ()
    ) -> tuple[list[str], list[str]]:
        """Give free places to the waiting list, in its order (each in turn whose places
        fit), recording ``registration_changed`` and telling each (but those in ``quiet``:
        moved back to where they were in the same change). ``(promoted ids, mail keys)``."""
        if event["status"] != "published" or event["starts_at"] <= _now():
            return [], []  # a place that comes up once the event has begun helps nobody
        counts = store.event_counts(conn, str(event["id"]))
        waiting = store.active(conn, str(event["id"]), "waiting")
        promoted = domain.promotions(event["capacity"], counts["confirmed_places"], waiting)
        store.set_status(conn, promoted, "confirmed")
        keys: list[str] = []
        for row in waiting:
            if str(row["id"]) in promoted:
                now_confirmed = {**row, "status": "confirmed", "moves": row["moves"] + 1}
                record_event(
                    conn,
                    SOURCE,
                    "registration_changed",
                    domain.registration_event(now_confirmed, event),
                )
                if str(row["id"]) not in quiet:
                    mail = domain.promoted_email(event)
                    keys += self._queue(
                        conn, "promoted", now_confirmed, now_confirmed["moves"], mail
                    )
        if promoted:
            log.info("%d promoted from the waiting list of event %s", len(promoted), event["id"])
        return promoted, keys

    # -- residents ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def list_events(self, filters: Json | None = None) -> Json:
        """Published events not yet over (``EventFiltersSchema``), soonest first."""
        clean, now = load(contract.EventFiltersSchema(), filters or {}), _now()
        with self.db.connection() as conn:
            rows = store.list_events(conn, clean, ("published",), now, LIST_LIMIT)
        return {"events": [schemas.event(r, now) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def get_event(self, event_id: str) -> Json:
        with self.db.connection() as conn:
            return schemas.event(self._event(conn, event_id, public=True), _now())

    @rpc(expected_exceptions=EXPECTED)
    def register(self, event_id: str, registration: Json, idempotency_key: str) -> Json:
        """A place, or a place on the waiting list, in one transaction under the event's row
        lock: capacity is never exceeded. The same idempotency key again answers the same
        registration (with the same manage code)."""
        eid = self._event_id(event_id)
        key = domain.check_idempotency_key(idempotency_key)
        clean = domain.check_registration(load(contract.RegistrationInputSchema(), registration))
        now, key_hash = _now(), domain.key_hash(key)
        with self.db.connection() as conn:
            event = store.lock_event(conn, eid)
            if event is None or event["status"] == "draft":
                raise NotFound(NO_EVENT.format(eid))
            existing = store.find_by_key(conn, eid, key_hash)
            if existing is not None:
                salt = existing["manage_salt"]
                code = domain.manage_code(key, bytes(salt)) if salt is not None else None
                return self._mine(conn, existing, event, code)
            domain.check_open(event, now)
            counts = store.event_counts(conn, eid)
            rid, salt = str(uuid.uuid4()), domain.new_salt()
            code = domain.manage_code(key, salt)
            status = domain.status_for(
                event["capacity"], counts["confirmed_places"], clean["places"]
            )
            row = {
                "id": rid,
                "event_id": eid,
                "idempotency_key_hash": key_hash,
                "receipt_code": domain.new_receipt_code(),
                "manage_code_hash": domain.code_hash(code),
                "manage_salt": salt,
                "status": status,
                "places": clean["places"],
                "name": clean["name"],
                "email": clean["email"],
                "phone": clean["phone"],
                "consent": clean["consent"],
                "equality": clean["equality"],
                "walk_in": False,
                "attended": None,
                "reminded_at": domain.reminded_on_registering(
                    status, clean["email"], event["starts_at"], now, ics().event_reminder_hours
                ),
            }
            store.insert_registration(conn, row)
            store.insert_adjustments(
                conn, domain.new_adjustments(rid, event, clean["access_needs"], now)
            )
            record_event(conn, SOURCE, "registration_made", domain.registration_event(row, event))
            answer = self._mine(conn, store.get_registration(conn, rid), event, code)
        if clean["email"]:
            url = self._public_url()
            eventlet.spawn_n(self._confirm, self.mail, url, event, answer, clean["email"])
        return answer

    @staticmethod
    def _confirm(mail: notify.Notifier, url: str, event: Json, answer: Json, email: str) -> None:
        """The confirmation, with the private link: sent now or never (the code is not
        kept), so a failure is logged, not retried."""
        subject, body = domain.confirmation_email(
            event, answer, answer["position"], answer["manage_code"], answer["late_needs"], url,
            ics().name,
        )  # fmt: skip
        stop = domain.stop_url(url, answer["receipt_code"])
        try:
            mail.send(f"confirmation:{answer['id']}", email, subject, body, stop)
        except Exception:
            log.exception("confirmation of registration %s not emailed", answer["id"])

    @rpc(expected_exceptions=EXPECTED)
    def get_registration(self, manage_code: str) -> Json:
        with self.db.connection() as conn:
            row = self._by_code(conn, manage_code)
            event = store.get_event(conn, str(row["event_id"]))
            return self._mine(conn, row, event, manage_code)

    @rpc(expected_exceptions=EXPECTED)
    def update_registration(self, manage_code: str, changes: Json) -> Json:
        """A resident changes how many places they need or their access needs (a need
        asked for again keeps what staff arranged for it). More places than are free is a
        ``Conflict``; fewer frees places for the waiting list."""
        clean, now = load(contract.RegistrationChangeSchema(), changes), _now()
        with self.db.connection() as conn:
            found = self._by_code(conn, manage_code)
            event = store.lock_event(conn, str(found["event_id"]))
            row = store.get_registration(conn, str(found["id"]), lock=True)
            if row["status"] == "cancelled":
                raise Conflict("This registration was cancelled")
            if event["status"] != "published" or now >= event["starts_at"]:
                raise Conflict("This registration can no longer be changed")
            rid = str(row["id"])
            if "access_needs" in clean:
                needs = [
                    {"need": n["need"], "detail": (n.get("detail") or "").strip()}
                    for n in clean["access_needs"]
                ]
                added, removed = domain.changed_needs(store.needs_of(conn, [rid])[rid], needs)
                store.delete_adjustments(conn, removed)
                store.insert_adjustments(conn, domain.new_adjustments(rid, event, added, now))
            keys: list[str] = []
            places = clean.get("places", row["places"])
            if places != row["places"]:
                if row["status"] == "confirmed" and places > row["places"]:
                    counts = store.event_counts(conn, str(event["id"]))
                    free = contract.places_left(event["capacity"], counts["confirmed_places"])
                    if free is not None and places - row["places"] > free:
                        raise Conflict(
                            f"Only {free} more place(s) are free at this event",
                            {"places": [f"can be at most {row['places'] + free}"]},
                        )
                store.set_places(conn, rid, places)
                changed = {**row, "places": places}
                record_event(
                    conn, SOURCE, "registration_changed", domain.registration_event(changed, event)
                )
                keys = self._promote(conn, event)[1]
            answer = self._mine(conn, store.get_registration(conn, rid), event, manage_code)
        self._send_later(keys)
        return answer

    @rpc(expected_exceptions=EXPECTED)
    def cancel_registration(self, manage_code: str) -> Json:
        """A resident cancels; their place goes to the waiting list, in order, and whoever
        gets it is told. Cancelling again answers the same."""
        now = _now()
        with self.db.connection() as conn:
            found = self._by_code(conn, manage_code)
            event = store.lock_event(conn, str(found["event_id"]))
            row = store.get_registration(conn, str(found["id"]), lock=True)
            keys: list[str] = []
            if row["status"] != "cancelled":
                if now >= event["starts_at"]:
                    raise Conflict("This event has started: it is too late to cancel")
                keys = self._cancel(conn, row, event, now)
            answer = self._mine(
                conn, store.get_registration(conn, str(row["id"])), event, manage_code
            )
        self._send_later(keys)
        return answer

    def _cancel(self, conn: Connection, row: Json, event: Json, now: datetime) -> list[str]:
        store.cancel_registration(conn, str(row["id"]), now)
        record_event(
            conn, SOURCE, "registration_cancelled", domain.registration_cancelled(row["id"], event)
        )
        return self._promote(conn, event)[1] if row["status"] == "confirmed" else []

    @rpc(expected_exceptions=EXPECTED)
    def stop_emails(self, receipt_code: str) -> Json:
        """A resident's "stop emails" link: no more mail to their address, and their address
        and phone number are deleted from the registration (kept only to tell them)."""
        code = load(ReceiptCodeSchema(), {"receipt_code": receipt_code})["receipt_code"]
        with self.db.connection() as conn:
            row = store.by_receipt(conn, code)
            if row is None:
                raise NotFound(NO_REGISTRATION)
            if row["email"]:
                self.mail.opt_out(row["email"])
            store.forget_contact(conn, str(row["id"]))
        return {"receipt_code": code, "stopped": True}

    # -- staff: events ------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def create_event(self, event: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.EventInputSchema(), event, actor)
        now = _now()
        with self.db.connection() as conn:
            domain.check_themes(clean["themes"], store.themes_in_use(conn))
            created = domain.new_event(clean, str(uuid.uuid4()), who, now)
            store.insert_event(conn, created)
            log.info("event %s created by %s", created["id"], who["name"])
            return self._shown(conn, created["id"], now)

    @rpc(expected_exceptions=EXPECTED)
    def update_event(self, event_id: str, changes: Json, actor: Json) -> Json:
        """Change an event. Capacity below the places confirmed needs ``to_waiting_list``:
        those registrations go to the head of the waiting list, in that order, and are told.
        Registrants of a published event are told of a new time, venue or link."""
        clean, who = self._with_actor(contract.EventChangeSchema(), changes, actor)
        to_move = [str(i) for i in clean.pop("to_waiting_list", [])]
        now = _now()
        with self.db.connection() as conn:
            event = self._locked(conn, event_id)
            eid = str(event["id"])
            if "themes" in clean:
                domain.check_themes(
                    clean["themes"], store.themes_in_use(conn), keep=event["themes"]
                )
            updated = domain.changed_event(event, clean, who, now)
            target = updated or event
            moved = domain.capacity_cut(
                target["capacity"], store.active(conn, eid, "confirmed"), to_move
            )
            keys: list[str] = []
            if updated is not None:
                store.save_event(conn, updated)
                if updated["status"] != "draft":
                    record_event(
                        conn, SOURCE, "engagement_event_changed", domain.event_changed(updated)
                    )
            if moved:
                store.to_head_of_waiting_list(conn, eid, moved)
            promoted, keys = self._promote(conn, target, quiet=moved)
            for rid in moved:
                if rid in promoted:
                    continue
                row = store.get_registration(conn, rid)
                record_event(
                    conn, SOURCE, "registration_changed", domain.registration_event(row, target)
                )
                keys += self._queue(
                    conn, "waiting", row, row["moves"], domain.moved_to_waiting_email(target)
                )
            if moved:
                log.info(
                    "%d moved to the waiting list of event %s by %s", len(moved), eid, who["name"]
                )
            if updated is not None and updated["status"] == "published":
                keys += self._tell_of_change(conn, event, updated)
            answer = self._shown(conn, eid, now)
        self._send_later(keys)
        return answer

    def _tell_of_change(self, conn: Connection, before: Json, after: Json) -> list[str]:
        what = domain.what_registrants_hear(before, after)
        if not what:
            return []
        keys = []
        for row in store.with_email(conn, str(after["id"]), domain.ACTIVE):
            mail = domain.changed_email(after, what, row["status"] == "confirmed")
            keys += self._queue(conn, "changed", row, after["version"], mail)
        return keys

    @rpc(expected_exceptions=EXPECTED)
    def publish_event(self, event_id: str, actor: Json) -> Json:
        who, now = load(ActorSchema(), actor, prefix="actor"), _now()
        with self.db.connection() as conn:
            event = self._locked(conn, event_id)
            published = domain.publish(event, who, now)
            if published is not None:
                store.save_event(conn, published)
                record_event(
                    conn, SOURCE, "engagement_event_published", domain.event_published(published)
                )
                log.info("event %s published by %s", event["id"], who["name"])
            return self._shown(conn, str(event["id"]), now)

    @rpc(expected_exceptions=EXPECTED)
    def cancel_event(self, event_id: str, reason: str, actor: Json) -> Json:
        """Cancel an event; everyone registered (and waiting) is told why."""
        who, now = load(ActorSchema(), actor, prefix="actor"), _now()
        why = domain.check_reason(reason)
        keys: list[str] = []
        with self.db.connection() as conn:
            event = self._locked(conn, event_id)
            cancelled = domain.cancel(event, why, who, now)
            if cancelled is not None:
                store.save_event(conn, cancelled)
                record_event(
                    conn, SOURCE, "engagement_event_cancelled", domain.event_cancelled(cancelled)
                )
                if event["status"] == "published":
                    mail = domain.cancelled_email(cancelled)
                    for row in store.with_email(conn, str(event["id"]), domain.ACTIVE):
                        keys += self._queue(conn, "event-cancelled", row, None, mail)
                log.info("event %s cancelled by %s", event["id"], who["name"])
            answer = self._shown(conn, str(event["id"]), now)
        self._send_later(keys)
        return answer

    @rpc(expected_exceptions=EXPECTED)
    def staff_list_events(self, filters: Json | None = None) -> Json:
        """Published and cancelled events (drafts too with ``include_drafts``), with their
        counts (``EventFiltersSchema``)."""
        clean, now = load(contract.EventFiltersSchema(), filters or {}), _now()
        statuses = ("published", "cancelled") + (("draft",) if clean["include_drafts"] else ())
        with self.db.connection() as conn:
            rows = store.list_events(conn, clean, statuses, now, LIST_LIMIT)
        return {"events": [schemas.event(r, now) for r in rows]}

    # -- staff: registrations and access needs ------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def list_registrations(self, event_id: str) -> Json:
        """Everyone registered, with names and contact (the gateway audits each read):
        confirmed, then the waiting list in order, then cancelled."""
        with self.db.connection() as conn:
            event = self._event(conn, event_id)
            rows = store.event_registrations(conn, str(event["id"]))
            needs = store.needs_of(conn, [str(r["id"]) for r in rows])
        positions = schemas.positions([r for r in rows if r["status"] == "waiting"])
        return {
            "registrations": [
                schemas.staff_registration(r, needs[str(r["id"])], positions.get(str(r["id"])))
                for r in rows
            ]
        }

    @rpc(expected_exceptions=EXPECTED)
    def adjustments(self, event_id: str) -> Json:
        """The access needs to arrange for an event (late ones first)."""
        with self.db.connection() as conn:
            event = self._event(conn, event_id)
            rows = store.event_adjustments(conn, str(event["id"]))
        return {"adjustments": [schemas.adjustment(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def set_adjustment(self, adjustment_id: str, change: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.AdjustmentChangeSchema(), change, actor)
        aid = domain.canonical_id(adjustment_id)
        with self.db.connection() as conn:
            row = store.get_adjustment(conn, aid) if aid else None
            if row is None:
                raise NotFound(f"There is no access need with id {adjustment_id}")
            updated = domain.change_adjustment(row, clean)
            if updated is None:
                return schemas.adjustment(row)
            store.save_adjustment(conn, updated, domain.who(who), _now())
        return schemas.adjustment(updated)

    @rpc(expected_exceptions=EXPECTED)
    def record_attendance(self, event_id: str, attendance: Json, actor: Json) -> Json:
        """Who came and who did not (confirmed registrations), and walk-ins with their
        optional equality answers; the event's ``reach``."""
        clean, who = self._with_actor(contract.AttendanceSchema(), attendance, actor)
        now = _now()
        with self.db.connection() as conn:
            event = self._locked(conn, event_id)
            eid = str(event["id"])
            if event["status"] != "published":
                raise Conflict(
                    f"Attendance is recorded for published events, not a {event['status']} one"
                )
            rows = {str(r["id"]): r for r in store.event_registrations(conn, eid)}
            domain.check_attendance(clean, rows)
            came = [str(i) for i in clean["attended"]]
            absent = [str(i) for i in clean["absent"]]
            store.mark_attended(conn, came, True)
            store.mark_attended(conn, absent, False)
            answers = store.equality_of(conn, came)
            marked = [(rid, True, answers.get(rid)) for rid in came]
            marked += [(rid, False, None) for rid in absent]
            for walk_in in clean["walk_ins"]:
                equality, _ = validate_equality(walk_in.get("equality"))
                row = domain.walk_in(eid, walk_in["places"], equality)
                store.insert_registration(conn, row)
                marked.append((row["id"], True, row["equality"]))
            for rid, attended, equality in marked:
                record_event(
                    conn,
                    SOURCE,
                    "attendee_recorded",
                    domain.attendee_recorded(rid, event, attended, equality),
                )
            store.mark_attendance_recorded(conn, eid, now)
            totals = store.reach_totals(conn, [eid])
            record_event(
                conn, SOURCE, "attendance_recorded", domain.attendance_recorded(event, totals)
            )
            log.info("attendance at event %s recorded by %s", eid, who["name"])
            return self._reach(conn, eid, None)

    # -- staff: what we heard -----------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def add_point(self, event_id: str, point: Json, actor: Json) -> Json:
        """A point raised at the event, redacted (the original kept until the purge), with
        themes from feedback's list; published as ``point_heard``."""
        clean, who = self._with_actor(contract.PointInputSchema(), point, actor)
        with self.db.connection() as conn:
            event = self._event(conn, event_id)
            domain.can_hear(event)
            domain.check_themes(clean["themes"], store.themes_in_use(conn))
        redacted = self.redact([clean["text"], clean.get("quote") or ""])
        heard = domain.new_point(event, clean, redacted, who, _now())
        with self.db.connection() as conn:
            store.insert_point(conn, heard)
            record_event(conn, SOURCE, "point_heard", domain.point_heard(heard, event))
        return schemas.point(heard)

    @rpc(expected_exceptions=EXPECTED)
    def approve_point_quote(self, point_id: str, actor: Json) -> Json:
        who = load(ActorSchema(), actor, prefix="actor")
        with self.db.connection() as conn:
            point = self._point(conn, point_id)
            approved = domain.approve_quote(point, who, _now())
            store.approve_quote(conn, approved)
            event = store.get_event(conn, str(point["event_id"]))
            record_event(conn, SOURCE, "quote_published", domain.quote_published(approved, event))
        log.info("quote of point %s approved by %s", point["id"], who["name"])
        return schemas.point(approved)

    def _point(self, conn: Connection, point_id: Any) -> Json:
        pid = domain.canonical_id(point_id)
        point = store.get_point(conn, pid) if pid else None
        if point is None:
            raise NotFound(f"There is no point with id {point_id}")
        return point

    @rpc(expected_exceptions=EXPECTED)
    def list_points(self, event_id: str, public: bool = False) -> Json:
        if not isinstance(public, bool):
            raise ValidationFailed({"public": ["must be true or false"]})
        with self.db.connection() as conn:
            event = self._event(conn, event_id, public=public)
            rows = store.event_points(conn, str(event["id"]))
        return {"points": [schemas.point(r, public=public) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def withdraw_point(self, point_id: str, actor: Json) -> Json:
        """Take a point back (recorded by mistake, or the person asked): ``point_withdrawn``."""
        who = load(ActorSchema(), actor, prefix="actor")
        with self.db.connection() as conn:
            point = self._point(conn, point_id)
            store.delete_point(conn, str(point["id"]))
            record_event(conn, SOURCE, "point_withdrawn", domain.point_withdrawn(point))
        log.info("point %s withdrawn by %s", point["id"], who["name"])
        return {"point_id": str(point["id"]), "withdrawn": True}

    # -- reach --------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def reach(self, event_id: str | None = None, place: str | None = None) -> Json:
        """Registrations, attendance, no-shows, the waiting list, access needs and the
        attendees' equality mix of one event, a place's events or all, every count of
        people through the small-number rule."""
        if place is not None and place not in places():
            raise ValidationFailed({"place": ["is not one of our places"]})
        with self.db.connection() as conn:
            eid = None if event_id is None else str(self._event(conn, event_id)["id"])
            return self._reach(conn, eid, place)

    def _reach(self, conn: Connection, event_id: str | None, place: str | None) -> Json:
        threshold = ics().small_number_threshold
        events = store.reach_events(conn, event_id)
        shown = True
        if place is not None:
            everywhere = store.attended_by_place(conn, [str(e["id"]) for e in events])
            shown = domain.place_shown(everywhere, place, threshold)
            events = [e for e in events if e["place"] == place]
        ids = [str(e["id"]) for e in events]
        needs = {n["need"]: n for n in store.reach_needs(conn, ids)}
        return domain.reach(
            len(ids),
            store.reach_totals(conn, ids),
            [needs[n] for n in contract.ACCESS_NEEDS if n in needs],
            store.attendee_equality(conn, ids),
            store.attended_by_place(conn, ids),
            threshold,
            shown,
        )

    # -- themes (feedback's) ------------------------------------------------------------------

    @timer(interval=3600, eager=True)
    def seed_themes(self) -> None:
        """At start (and hourly, harmlessly): the themes feedback seeds, so points can be
        themed before any of feedback's events arrive. Only missing ones are added."""
        with self.db.connection() as conn:
            added = store.seed_themes(conn, domain.seeded_themes(ics()))
        if added:
            log.info("seeded %d theme(s) from the ICS configuration", len(added))

    @event_handler(FEEDBACK, "theme_saved")
    def on_theme_saved(self, event: Json) -> None:
        """Keep events' copy of feedback's themes; each event applied once."""
        theme = domain.theme_from_event(event)
        with self.db.connection() as conn:
            if claim_message(conn, str(event["event_id"]), "events.on_theme_saved"):
                store.apply_theme(conn, theme)

    # -- mail ---------------------------------------------------------------------------------

    @timer(interval=60)
    def send_mail(self) -> None:
        """Every minute: queue the reminders now due (``event_reminder_hours`` before the
        start, each once), then send what is queued (and what failed before)."""
        reminders = self._queue_reminders(_now())
        with self.db.connection() as conn:
            keys = store.pending_keys(conn, MAIL_BATCH)
        sent = send_queued(self.db, self.mail, self._public_url(), keys)
        if reminders or sent:
            log.info("queued %d reminder(s); sent %d email(s)", reminders, sent)

    def _queue_reminders(self, now: datetime) -> int:
        with self.db.connection() as conn:
            due = store.due_reminders(conn, now, ics().event_reminder_hours, MAIL_BATCH)
            events: dict[str, Json] = {}
            for row in due:
                eid = str(row["event_id"])
                event = events.setdefault(eid, store.get_event(conn, eid))
                subject, body = domain.reminder_email(event)
                store.queue_mail(conn, f"reminder:{row['id']}", str(row["id"]), subject, body)
                store.mark_reminded(conn, str(row["id"]), now)
        return len(due)

    # -- privacy (UK GDPR) --------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def find_personal_data(self, receipt_code: str | None = None, text: str | None = None) -> Json:
        """Registrations that may be about one person: by receipt code and/or a text (a
        name, an email, a phone number) in their name, contact or access needs."""
        search = load(PersonalDataSearchSchema(), {"receipt_code": receipt_code, "text": text})
        with self.db.connection() as conn:
            rows = store.search_personal_data(conn, **search, limit=SEARCH_LIMIT + 1)
        page, truncated = rows[:SEARCH_LIMIT], len(rows) > SEARCH_LIMIT
        found = [
            schemas.personal_data_registration(row, matches)
            for row in page
            if (matches := domain.personal_data_matches(row, **search))
        ]
        return {"registrations": found, "truncated": truncated}

    @rpc(expected_exceptions=EXPECTED)
    def erase_registrations(self, registration_ids: list[str]) -> Json:
        """Erase what identifies the people registered (an erasure request under UK GDPR);
        a place at an event still to come is cancelled first, so it goes to the waiting
        list. The anonymous rest stays, so counts do not change."""
        ids = load(contract.EraseRegistrationsSchema(), {"registration_ids": registration_ids})
        erased: list[str] = []
        keys: list[str] = []
        now = _now()
        for rid in ids["registration_ids"]:
            with self.db.connection() as conn:
                found = store.get_registration(conn, rid)
                if found is None:
                    continue
                event = store.lock_event(conn, str(found["event_id"]))
                row = store.get_registration(conn, rid, lock=True)
                if row["status"] in domain.ACTIVE and not row["walk_in"] and now < event["ends_at"]:
                    keys += self._cancel(conn, row, event, now)
                gone = store.anonymise(conn, [rid], now, "erased_at")
                for erased_id in gone:
                    record_event(
                        conn,
                        SOURCE,
                        "registration_erased",
                        domain.registration_erased(erased_id, event["id"]),
                    )
                erased += gone
                store.forget_mail(conn, domain.mail_key_prefixes([rid]))
        if erased:
            log.info("erased the personal details of %d registration(s)", len(erased))
        self._send_later(keys)
        return {"erased": len(erased), "registration_ids": erased}

    @rpc(expected_exceptions=EXPECTED)
    def purge_expired(self, now: str | None = None) -> Json:
        """Purge personal details past the retention period (``now``: ISO 8601, for tests)."""
        moment = load(PurgeExpiredSchema(), {"now": now})["now"]
        return {"purged": self._purge(moment or _now())}

    @timer(interval=3600)
    def purge_retention(self) -> None:
        """Hourly: names, contact, equality answers and manage codes of registrations for
        events that ended longer ago than retention go (anonymous counts stay)."""
        purged = self._purge(_now())
        if purged:
            log.info("purged personal details of %d registration(s)", purged)

    def _purge(self, now: datetime) -> int:
        ended_before = domain.purge_before(now, ics().retention_days["event_registrations"])
        with self.db.connection() as conn:
            store.purge_points(conn, ended_before, now)
        total = 0
        while True:
            with self.db.connection() as conn:
                ids = store.expired_registrations(conn, ended_before, PURGE_BATCH)
                store.anonymise(conn, ids, now, "purged_at")
                store.forget_mail(conn, domain.mail_key_prefixes(ids))
            total += len(ids)
            if len(ids) < PURGE_BATCH:
                return total
