"""nameko entrypoints for feedback: each loads its arguments with the contract's schemas
(``engage_contracts.feedback``), asks ``domain`` what to do, persists with ``store`` in one
transaction, recording events through the outbox in that same transaction, and returns
the contract's shapes (``schemas``). Mail goes after the commit, through the notifier
(``engage_common.notify``), which sends each message key once; what could not be sent
is tried again by a timer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from psycopg import Connection

from engage_common import healthcheck, language, notify, outbox, safeguarding
from engage_common.db import Database
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.logs import EXPECTED
from engage_common.messaging import claim_message, consume, rpc, submissions_queue
from engage_common.observability import Observability
from engage_common.outbox import OutboxRelay, record_event
from engage_common.redaction import Redactor
from engage_contracts import feedback as contract
from engage_contracts.base import load
from engage_contracts.ics import ics
from engage_contracts.privacy import (
    PersonalDataSearchSchema,
    PurgeExpiredSchema,
    ReceiptCodeSchema,
)
from feedback import domain, schemas, store

log = logging.getLogger(__name__)
SOURCE = "feedback"
HANDLER = "feedback.store_feedback"
NO_RECEIPT = "We do not hold feedback with that receipt code"
SEARCH_LIMIT = 200
PURGE_BATCH = 500
MAIL_BATCH = 50
SAFEGUARDING_MAX = 1000
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"

Json = dict[str, Any]
Apply = Callable[[Connection, Json, datetime], domain.Change]


def _now() -> datetime:
    return datetime.now(UTC)


class Mail(DependencyProvider):
    """The notifier over the service's own database: each message key is sent once, and
    never to an address that asked for no more mail. SMTP or GOV.UK Notify by the
    settings (``notify.sender_from_settings``); a logging sender without them."""

    def __init__(self, database_attr: str = "db", attempts: int = 4, backoff: float = 1.0) -> None:
        """``attempts`` and ``backoff``: the notifier's, per message and call; what is still
        unsent after them waits for ``send_pending_mail``."""
        self.database_attr = database_attr
        self.attempts, self.backoff = attempts, backoff

    def setup(self) -> None:
        self.sender = notify.sender_from_settings(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> notify.Notifier:
        database = next(d for d in self.container.dependencies if d.attr_name == self.database_attr)
        return notify.Notifier(database.pool, self.sender, self.attempts, self.backoff)


class FeedbackService(healthcheck.HealthCheck, outbox.EventReplay):
    name = "feedback"

    db = Database()
    obs = Observability()  # correlation ids, a log line a call, metrics (METRICS_PORT)
    relay = OutboxRelay()  # publishes what the outbox holds
    redact = Redactor()  # free text redacted off the hub, the redactor built at start
    mail = Mail()
    config = Config()

    # -- helpers ------------------------------------------------------------------------------

    def _item(self, conn: Connection, feedback_id: Any, lock: bool = False) -> Json:
        fid = domain.canonical_id(feedback_id)
        found = store.get_item(conn, fid, lock=lock) if fid else None
        if found is None:
            raise NotFound(f"There is no feedback with id {fid or feedback_id}")
        return found

    def _shaped(self, conn: Connection, item: Json, now: datetime, original: bool = False) -> Json:
        entries = store.histories(conn, [str(item["id"])])[str(item["id"])]
        targets = ics().response_targets
        return schemas.item(item, now, targets, entries, with_original=original)

    def _receipt_code(self, receipt_code: Any) -> str:
        return load(ReceiptCodeSchema(), {"receipt_code": receipt_code})["receipt_code"]

    def _public_url(self) -> str:
        return str(self.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL)

    def _change(self, feedback_id: Any, apply: Apply) -> Json:
        """Read the item, let ``apply`` decide the change, and write it only if nobody
        changed the item meanwhile (``Conflict`` otherwise: no lost update)."""
        now = _now()
        with self.db.connection() as conn:
            item = self._item(conn, feedback_id)
            change = apply(conn, item, now)
            if change.item is None:
                return self._shaped(conn, item, now)
            self._save(conn, item, change)
            return self._shaped(conn, change.item, now)

    def _save(self, conn: Connection, before: Json, change: domain.Change) -> None:
        if change.item is None:
            return
        if not store.save_item(conn, change.item, before["version"]):
            raise Conflict(domain.CHANGED_MEANWHILE)
        store.insert_history(conn, str(before["id"]), change.history)
        for event_type, payload in change.events:
            record_event(conn, SOURCE, event_type, payload)

    def _with_actor(self, schema: Any, data: Any, actor: Any) -> tuple[Json, Json]:
        """A staff request's argument and who is acting, every error of both at once."""
        errors: dict[str, Any] = {}
        loaded = []
        for each, value, prefix in ((schema, data, ""), (contract.ActorSchema(), actor, "actor")):
            try:
                loaded.append(load(each, value, prefix=prefix))
            except ValidationFailed as failed:
                errors.update(failed.errors)
        if errors:
            raise ValidationFailed(errors)
        return loaded[0], loaded[1]

    def _active_themes(self, conn: Connection) -> list[str]:
        return [t["slug"] for t in store.list_themes(conn)]

    # -- intake -------------------------------------------------------------------------------

    @consume(submissions_queue("feedback"))
    def store_feedback(self, body: Any) -> str:
        """Store queued feedback exactly once: redacted, checked for safeguarding and
        language, with suggestions; or record why it was not stored (rejected, or an
        import already stored). An unidentifiable message raises: retried, then
        dead-lettered."""
        message, errors = domain.read_message(body)
        verdict, feedback = domain.judge_message(message, errors)
        if verdict == "rejected":
            with self.db.connection() as conn:
                if not claim_message(conn, message["submission_id"], HANDLER):
                    return "duplicate"
                store.insert_unstored(conn, feedback, "rejected")
            return "rejected"
        checks = self._checks(feedback)
        # The item's id is its submission's: the gateway knows it when it queues the
        # feedback, so a resident's request to hear back can name it at once.
        now, feedback_id = _now(), str(feedback["submission_id"])
        with self.db.connection() as conn:
            if not claim_message(conn, feedback["submission_id"], HANDLER):
                return "duplicate"
            key = domain.dedupe_key(feedback)
            if key is not None:
                store.lock_dedupe_key(conn, *key)
                original = store.find_duplicate(conn, *key)
                if original is not None:
                    store.insert_unstored(conn, domain.duplicate(feedback, original), "duplicate")
                    return "duplicate"
            item = domain.new_item(feedback, feedback_id, checks, store.list_themes(conn), now)
            if not store.insert_item(conn, item):
                return "duplicate"
            store.insert_history(conn, feedback_id, domain.intake_history(item, now))
            record_event(conn, SOURCE, "feedback_received", domain.received(item))
            if item["urgent"]:
                record_event(conn, SOURCE, "safeguarding_flagged", domain.flagged(item))
        if item["urgent"]:
            self._send_alerts(feedback_id)
        return "stored"

    def _checks(self, feedback: Json) -> domain.Checks:
        """Redaction (in a native thread: it is CPU-bound), safeguarding, language."""
        about, text = self.redact([feedback["about"], feedback["text"]])
        concern = safeguarding.assess(f"{feedback['about']}\n{feedback['text']}")
        return domain.Checks(about, text, concern, language.looks_english(feedback["text"]))

    # -- mail ---------------------------------------------------------------------------------

    def _send_alerts(self, feedback_id: str | None = None) -> int:
        """Email the ICS's safeguarding contact about urgent items not alerted yet (one
        item, or any); what fails stays pending for ``send_pending_mail``."""
        with self.db.connection() as conn:
            pending = store.unalerted(conn, MAIL_BATCH, feedback_id)
        return sum(self._alert(each) for each in pending)

    def _alert(self, feedback_id: str) -> bool:
        contact = ics().safeguarding["email"]
        with self.db.connection() as conn:
            if not store.try_lock(conn, f"feedback-mail:safeguarding:{feedback_id}"):
                return False
            row = store.unalerted_item(conn, feedback_id)
            if row is None:
                return False
            subject, body, stop = domain.safeguarding_email(row, self._public_url(), ics().name)
            try:
                outcome = self.mail.send(
                    f"safeguarding:{feedback_id}", contact, subject, body, stop
                )
            except Exception:
                log.exception("safeguarding alert for %s not sent; will retry", feedback_id)
                return False
            if outcome == notify.OPTED_OUT:
                log.error("safeguarding alert for %s NOT sent: %s opted out", feedback_id, contact)
            now = _now()
            store.mark_alerted(conn, feedback_id, now)
            store.insert_history(conn, feedback_id, [domain.alerted(outcome, now)])
        return True

    def _send_replies(self, feedback_id: str | None = None) -> int:
        """Email replies waiting to go (one item's, or any)."""
        with self.db.connection() as conn:
            pending = store.unmailed_replies(conn, MAIL_BATCH, feedback_id)
        return sum(self._mail_reply(each) for each in pending)

    def _mail_reply(self, feedback_id: str) -> bool:
        with self.db.connection() as conn:
            if not store.try_lock(conn, f"feedback-mail:reply:{feedback_id}"):
                return False
            row = store.unmailed_reply(conn, feedback_id)
            if row is None:
                return False
            version = row["reply_mail_version"]
            if row["email"] and row["reply_by"] == "email":
                subject, body, stop = domain.reply_email(row, self._public_url(), ics().name)
                try:
                    outcome = self.mail.send(
                        f"reply:{feedback_id}:{version}", row["email"], subject, body, stop
                    )
                except Exception:
                    log.exception("reply to %s not emailed; will retry", feedback_id)
                    return False
                entry = domain.reply_emailed(outcome, version, _now())
                store.insert_history(conn, feedback_id, [entry])
            store.reply_mailed(conn, feedback_id, version)
        return True

    @timer(interval=60)
    def send_pending_mail(self) -> None:
        """Every minute: alerts and replies whose first attempt failed (mail server away)."""
        alerts, replies = self._send_alerts(), self._send_replies()
        if alerts or replies:
            log.info("sent %d pending alert(s) and %d pending reply email(s)", alerts, replies)

    @rpc(expected_exceptions=EXPECTED)
    def stop_emails(self, receipt_code: str) -> Json:
        """A resident's "stop emails" link: no more mail to their address, and the address
        itself is deleted from their feedback (it was kept only to reply)."""
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.by_receipt(conn, code)
            if row is None:
                raise NotFound(NO_RECEIPT)
            if row["email"]:
                self.mail.opt_out(row["email"])
                store.forget_contact(conn, str(row["id"]))
            entry = domain.entry(None, "resident stopped emails", {}, _now())
            store.insert_history(conn, str(row["id"]), [entry])
        return {"receipt_code": code, "stopped": True}

    # -- residents ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_receipt(self, receipt_code: str) -> Json:
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.find_receipt(conn, code)
        if row is None:
            raise NotFound("We have not stored feedback with that receipt code (yet)")
        return schemas.receipt(row)

    @rpc(expected_exceptions=EXPECTED)
    def get_my_feedback(self, receipt_code: str) -> Json:
        """What a resident sent, found by their receipt code (the only key they hold)."""
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.by_receipt(conn, code)
        if row is None:
            raise NotFound(NO_RECEIPT)
        return schemas.my_feedback(row)

    @rpc(expected_exceptions=EXPECTED)
    def delete_my_feedback(self, receipt_code: str) -> Json:
        """Delete a resident's feedback, contact and equality answers, at their request."""
        code = self._receipt_code(receipt_code)
        with self.db.connection() as conn:
            row = store.by_receipt(conn, code)
            if row is None:
                raise NotFound(NO_RECEIPT)
            self._delete(conn, [str(row["id"])], "resident")
        return {"receipt_code": code, "deleted": True}

    # -- staff: reading -----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_item(self, feedback_id: str, with_original: bool = False) -> Json:
        now = _now()
        with self.db.connection() as conn:
            item = self._item(conn, feedback_id)
            return self._shaped(conn, item, now, original=with_original is True)

    @rpc(expected_exceptions=EXPECTED)
    def search(self, query: Json | None = None) -> Json:
        """Full-text search (redacted words, stemmed English) with filters, newest first,
        a keyset page at a time."""
        clean, now = load(contract.SearchQuerySchema(), query or {}), _now()
        after = domain.read_cursor(clean["after"])
        targets = ics().response_targets
        with self.db.connection() as conn:
            rows = store.search(conn, clean, after, clean["limit"] + 1, now, targets)
        page, more = domain.page_of(rows, clean["limit"])
        return {
            "items": [schemas.item(row, now, targets) for row in page],
            "next": domain.cursor(page[-1]) if more else None,
        }

    @rpc(expected_exceptions=EXPECTED)
    def triage_queue(self, after: str | None = None, limit: int = 50) -> Json:
        """Received items waiting for triage: urgent ones and those the language check
        could not read first, then the longest waiting (``SearchPageSchema``)."""
        clean = load(
            contract.SearchQuerySchema(only=("after", "limit")), {"after": after, "limit": limit}
        )
        position, now = domain.read_queue_cursor(clean["after"]), _now()
        targets = ics().response_targets
        with self.db.connection() as conn:
            rows = store.triage_queue(conn, position, clean["limit"] + 1)
        page, more = domain.page_of(rows, clean["limit"])
        return {
            "items": [schemas.item(row, now, targets) for row in page],
            "next": domain.queue_cursor(page[-1]) if more else None,
        }

    @rpc(expected_exceptions=EXPECTED)
    def safeguarding_queue(self) -> Json:
        now, targets = _now(), ics().response_targets
        with self.db.connection() as conn:
            rows = store.safeguarding_queue(conn, SAFEGUARDING_MAX)
            entries = store.histories(conn, [str(r["id"]) for r in rows])
        if len(rows) == SAFEGUARDING_MAX:
            log.warning("the safeguarding queue holds %d or more open items", SAFEGUARDING_MAX)
        return {"items": [schemas.item(r, now, targets, entries[str(r["id"])]) for r in rows]}

    # -- staff: changing ----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def triage(self, feedback_id: str, change: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.TriageSchema(), change, actor)

        def apply(conn: Connection, item: Json, now: datetime) -> domain.Change:
            return domain.apply_triage(item, clean, who, self._active_themes(conn), now)

        return self._change(feedback_id, apply)

    @rpc(expected_exceptions=EXPECTED)
    def respond(self, feedback_id: str, reply: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.ReplySchema(), reply, actor)

        def apply(conn: Connection, item: Json, now: datetime) -> domain.Change:
            has_email = store.contact_email(conn, str(item["id"])) is not None
            return domain.apply_reply(item, clean, who, has_email, now)

        answer = self._change(feedback_id, apply)
        self._send_replies(answer["id"])
        return answer

    @rpc(expected_exceptions=EXPECTED)
    def approve_quote(self, feedback_id: str, approval: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.QuoteApprovalSchema(), approval, actor)

        def apply(conn: Connection, item: Json, now: datetime) -> domain.Change:
            return domain.approve_quote(item, clean, who, now)

        return self._change(feedback_id, apply)

    @rpc(expected_exceptions=EXPECTED)
    def bulk(self, change: Json, actor: Json) -> Json:
        """A status and/or themes for many items, each in its own transaction; an item the
        change cannot apply to (the workflow, or gone) is reported, the others change."""
        clean, who = self._with_actor(contract.BulkChangeSchema(), change, actor)
        if not clean.get("status") and not clean["add_themes"]:
            raise ValidationFailed({"_schema": ["give a status, themes to add, or both"]})
        with self.db.connection() as conn:
            domain.check_themes(
                clean["add_themes"], self._active_themes(conn), field_name="add_themes"
            )
        changed, conflicts = [], []
        for feedback_id in dict.fromkeys(str(i) for i in clean["feedback_ids"]):
            try:
                with self.db.connection() as conn:
                    item = self._item(conn, feedback_id, lock=True)
                    self._save(conn, item, domain.apply_bulk(item, clean, who, _now()))
            except (Conflict, NotFound) as why:
                log.info("bulk change skipped %s: %s", feedback_id, why)
                conflicts.append(feedback_id)
            else:
                changed.append(feedback_id)
        return {"changed": changed, "conflicts": conflicts}

    # -- themes -------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def list_themes(self, include_retired: bool = False) -> Json:
        if not isinstance(include_retired, bool):
            raise ValidationFailed({"include_retired": ["must be true or false"]})
        with self.db.connection() as conn:
            rows = store.list_themes(conn, include_retired)
        return {"themes": [schemas.theme(r) for r in rows]}

    @rpc(expected_exceptions=EXPECTED)
    def create_theme(self, theme: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.ThemeInputSchema(), theme, actor)
        created = domain.new_theme(clean, "staff")
        with self.db.connection() as conn:
            if not store.insert_theme(conn, created):
                raise Conflict(
                    f"There is a theme '{created['slug']}' already: rename or reuse it",
                    {"label": ["is taken by another theme"]},
                )
            record_event(conn, SOURCE, "theme_saved", domain.theme_saved(created))
        log.info("theme %s created by %s", created["slug"], who["name"])
        return schemas.theme(created)

    @rpc(expected_exceptions=EXPECTED)
    def update_theme(self, slug: str, changes: Json, actor: Json) -> Json:
        clean, who = self._with_actor(contract.ThemeChangeSchema(), changes, actor)
        with self.db.connection() as conn:
            current = store.get_theme(conn, str(slug), lock=True) if isinstance(slug, str) else None
            if current is None:
                raise NotFound(f"There is no theme '{slug}'")
            updated = domain.change_theme(current, clean)
            if updated != current:
                store.save_theme(conn, updated)
                record_event(conn, SOURCE, "theme_saved", domain.theme_saved(updated))
        log.info("theme %s changed by %s: %s", slug, who["name"], ", ".join(sorted(clean)))
        return schemas.theme(updated)

    @timer(interval=3600, eager=True)
    def seed_themes(self) -> None:
        """At start (and hourly, harmlessly): the ICS's priorities and ambitions and the
        common topics as themes. Only missing ones are added: staff's changes stay."""
        with self.db.connection() as conn:
            added = [t for t in domain.seeded_themes(ics()) if store.insert_theme(conn, t)]
            for theme in added:
                record_event(conn, SOURCE, "theme_saved", domain.theme_saved(theme))
        if added:
            log.info("seeded %d theme(s) from the ICS configuration", len(added))

    # -- privacy (UK GDPR) --------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def find_personal_data(self, receipt_code: str | None = None, text: str | None = None) -> Json:
        """Feedback that may be about one person: by receipt code and/or a text (a name,
        an email) in their own words, contact email or postcode district."""
        search = load(PersonalDataSearchSchema(), {"receipt_code": receipt_code, "text": text})
        with self.db.connection() as conn:
            rows = store.search_personal_data(conn, **search, limit=SEARCH_LIMIT + 1)
        page, truncated = domain.page_of(rows, SEARCH_LIMIT)
        found = [
            schemas.personal_data_item(row, matches)
            for row in page
            if (matches := domain.personal_data_matches(row, **search))
        ]
        return {"items": found, "truncated": truncated}

    @rpc(expected_exceptions=EXPECTED)
    def erase_feedback(self, feedback_ids: list[str]) -> Json:
        """Erase feedback (an erasure request under UK GDPR), contact and equality too."""
        ids = load(contract.EraseFeedbackSchema(), {"feedback_ids": feedback_ids})
        with self.db.connection() as conn:
            erased = self._delete(conn, ids["feedback_ids"], "staff")
        return {"erased": len(erased), "feedback_ids": erased}

    def _delete(self, conn: Connection, feedback_ids: list[str], by: str) -> list[str]:
        deleted = store.delete_items(conn, feedback_ids)
        for feedback_id in deleted:
            record_event(conn, SOURCE, "feedback_deleted", domain.deleted(feedback_id))
        if deleted:
            log.info("deleted %d feedback item(s) at the request of %s", len(deleted), by)
        return deleted

    @rpc(expected_exceptions=EXPECTED)
    def purge_expired(self, now: str | None = None) -> Json:
        """Purge personal details past the retention period (``now``: ISO 8601, for tests)."""
        moment = load(PurgeExpiredSchema(), {"now": now})["now"]
        return {"purged": self._purge(moment or _now())}

    @timer(interval=3600)
    def purge_retention(self) -> None:
        """Hourly: personal details of feedback closed longer ago than retention go."""
        purged = self._purge(_now())
        if purged:
            log.info("purged personal details of %d feedback item(s)", purged)

    def _purge(self, now: datetime) -> int:
        closed_before = domain.purge_before(now, ics().retention_days["feedback"])
        total = 0
        while True:
            with self.db.connection() as conn:
                ids = store.expired_items(conn, closed_before, PURGE_BATCH)
                if ids:
                    store.purge_items(conn, ids, now)
                    for feedback_id in ids:
                        store.insert_history(conn, feedback_id, [domain.purged(now)])
            total += len(ids)
            if len(ids) < PURGE_BATCH:
                return total
