"""nameko entrypoints for outcomes: each loads its arguments with the contract's schemas
(``engage_contracts.outcomes``), asks ``domain`` what to do, persists with ``store`` in one
transaction, recording events through the outbox in that same transaction, and returns
the contract's shapes (``schemas``). Followers' digests go through the notifier
(``engage_common.notify``), which sends each message key once, from a minutely timer."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from psycopg import Connection
from psycopg.errors import UniqueViolation

from engage_common import healthcheck, notify, outbox
from engage_common.db import Database
from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.logs import EXPECTED
from engage_common.messaging import claim_message, consume, event_handler, rpc, submissions_queue
from engage_common.observability import Observability
from engage_common.outbox import OutboxRelay, record_event
from engage_contracts import outcomes as contract
from engage_contracts.base import load
from engage_contracts.feedback import ActorSchema
from engage_contracts.ics import ics
from engage_contracts.privacy import PurgeExpiredSchema
from engage_contracts.reference import consent_record
from engage_contracts.shared import check_consent
from outcomes import domain, schemas, store

# How often digests due are looked for (seconds). Still at most one per follower per UK
# day: a shorter interval only sends the day's digest sooner (the tests use 1).
DIGEST_INTERVAL = float(os.environ.get("OUTCOMES_DIGEST_INTERVAL", "60"))
log = logging.getLogger(__name__)
SOURCE = "outcomes"
SURVEYS = "surveys"
MOVE_HANDLER = "outcomes.move_consultation_outcome"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
IMPORT_MAX = 10_000
MOVE_MAX = 20_000
MAIL_BATCH = 50
PURGE_BATCH = 500
NO_TOKEN = "That link to stop updates is not one we sent"
NO_PARENT = "there is no outcome with this id"
REFERENCE_TAKEN = "is used by another outcome"

Json = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


class Mail(DependencyProvider):
    """The notifier over the service's own database: each message key is sent once, and
    never to an address that asked for no more mail. SMTP or GOV.UK Notify by the
    settings (``notify.sender_from_settings``); a logging sender without them."""

    def __init__(self, database_attr: str = "db", attempts: int = 4, backoff: float = 1.0) -> None:
        """``attempts`` and ``backoff``: the notifier's, per message and call; a digest
        still unsent after them is tried again by the next ``send_digests``."""
        self.database_attr = database_attr
        self.attempts, self.backoff = attempts, backoff

    def setup(self) -> None:
        self.sender = notify.sender_from_settings(self.container.config)

    def get_dependency(self, worker_ctx: Any) -> notify.Notifier:
        database = next(d for d in self.container.dependencies if d.attr_name == self.database_attr)
        return notify.Notifier(database.pool, self.sender, self.attempts, self.backoff)


class OutcomesService(healthcheck.HealthCheck, outbox.EventReplay):
    name = "outcomes"

    db = Database()
    obs = Observability()  # correlation ids, a log line a call, metrics (METRICS_PORT)
    relay = OutboxRelay()  # publishes what the outbox holds
    mail = Mail()
    config = Config()

    # -- helpers ------------------------------------------------------------------------------

    def _public_url(self) -> str:
        return str(self.config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL)

    def _outcome(self, conn: Connection, outcome_id: Any, lock: bool = False) -> Json:
        oid = domain.canonical_id(outcome_id)
        found = store.get_outcome(conn, oid, lock=lock) if oid else None
        if found is None:
            raise NotFound(f"There is no outcome with id {oid or outcome_id}")
        return found

    def _shaped(self, conn: Connection, rows: list[Json], include_drafts: bool) -> list[Json]:
        """Outcomes as the contract shows them: children, progress rolled up, history."""
        ids = [r["id"] for r in rows]
        rolled = domain.roll_up(store.tree(conn, ids, include_drafts))
        kids = store.children(conn, ids, include_drafts)
        entries = store.histories(conn, ids)
        return [schemas.outcome(r, entries[r["id"]], kids[r["id"]], rolled[r["id"]]) for r in rows]

    def _one(self, conn: Connection, outcome: Json) -> Json:
        return self._shaped(conn, [outcome], include_drafts=True)[0]

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

    def _check_parent(self, conn: Connection, outcome_id: str, parent_id: str | None) -> None:
        if parent_id is None:
            return
        if not store.exists(conn, parent_id):
            raise ValidationFailed({"parent_id": [NO_PARENT]})
        domain.check_parent(outcome_id, parent_id, store.ancestors(conn, parent_id))

    def _record(
        self, conn: Connection, outcome: Json, effects: domain.Effects, now: datetime
    ) -> None:
        """Events through the outbox, and a notice for every follower it concerns."""
        for event_type, payload in effects.events:
            record_event(conn, SOURCE, event_type, payload)
        if effects.notice:
            store.queue_notices(conn, outcome["id"], effects.notice, outcome["status"], now)

    def _save(
        self,
        conn: Connection,
        before: Json,
        after: Json,
        made: Json | None,
        effects: domain.Effects,
        now: datetime,
    ) -> None:
        if after["reference"] != before["reference"] and store.reference_taken(
            conn, after["reference"], after["id"]
        ):
            raise Conflict("Another outcome has that reference", {"reference": [REFERENCE_TAKEN]})
        try:
            store.save_outcome(conn, after)
        except UniqueViolation:
            raise Conflict(
                "Another outcome has that reference", {"reference": [REFERENCE_TAKEN]}
            ) from None
        if after["evidence"] != before["evidence"]:
            store.replace_evidence(conn, after["id"], domain.evidence_rows(after["evidence"]))
        if made is not None:
            store.insert_history(conn, after["id"], made)
        self._record(conn, after, effects, now)

    def _insert(
        self, conn: Connection, outcome: Json, first: Json, effects: domain.Effects, now: datetime
    ) -> None:
        self._check_parent(conn, outcome["id"], outcome["parent_id"])
        if not store.insert_outcome(conn, outcome):
            raise Conflict("Another outcome has that reference", {"reference": [REFERENCE_TAKEN]})
        store.replace_evidence(conn, outcome["id"], domain.evidence_rows(outcome["evidence"]))
        store.insert_history(conn, outcome["id"], first)
        self._record(conn, outcome, effects, now)

    # -- staff: outcomes ----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def create_outcome(self, outcome: Json, actor: Json) -> Json:
        """A draft (``OutcomeInputSchema``); its status, progress and reason are the first
        entry of its history."""
        clean, who = self._with_actor(contract.OutcomeInputSchema(), outcome, actor)
        now = _now()
        created, first = domain.new_outcome(clean, str(uuid.uuid4()), who, now)
        with self.db.connection() as conn:
            self._insert(conn, created, first, domain.Effects(), now)
            return self._one(conn, created)

    @rpc(expected_exceptions=EXPECTED)
    def update_outcome(self, outcome_id: str, changes: Json, actor: Json) -> Json:
        """Changes to the record (``OutcomeChangeSchema``), never to the history; a parent
        that would put the outcome under itself is a ``Conflict``."""
        clean, who = self._with_actor(contract.OutcomeChangeSchema(), changes, actor)
        now = _now()
        with self.db.connection() as conn:
            if clean.get("parent_id"):
                store.lock_tree(conn)
            before = self._outcome(conn, outcome_id, lock=True)
            after = domain.change_record(before, clean, now)
            if after is before:
                return self._one(conn, before)
            if after["parent_id"] != before["parent_id"]:
                self._check_parent(conn, after["id"], after["parent_id"])
            self._save(conn, before, after, None, domain.changed(before, after), now)
            log.info("outcome %s changed by %s: %s", after["id"], who["name"], ", ".join(clean))
            return self._one(conn, after)

    @rpc(expected_exceptions=EXPECTED)
    def add_progress(self, outcome_id: str, update: Json, actor: Json) -> Json:
        """A dated entry in the history (``ProgressUpdateSchema``), which moves the current
        status and progress; ``not-taken-forward`` needs a reason."""
        clean, who = self._with_actor(contract.ProgressUpdateSchema(), update, actor)
        now = _now()
        with self.db.connection() as conn:
            before = self._outcome(conn, outcome_id, lock=True)
            after, made = domain.apply_progress(before, clean, who, now)
            self._save(conn, before, after, made, domain.changed(before, after), now)
            return self._one(conn, after)

    @rpc(expected_exceptions=EXPECTED)
    def publish_outcome(self, outcome_id: str, actor: Json) -> Json:
        """Public from now on (``outcome_published``; followers told). Publishing again
        changes nothing."""
        who = load(ActorSchema(), actor, prefix="actor")
        now = _now()
        with self.db.connection() as conn:
            before = self._outcome(conn, outcome_id, lock=True)
            if before["published_at"] is not None:
                return self._one(conn, before)
            after = {**before, "published_at": now, "updated_at": now}
            self._save(conn, before, after, None, domain.published(after), now)
            log.info("outcome %s published by %s", after["id"], who["name"])
            return self._one(conn, after)

    @rpc(expected_exceptions=EXPECTED)
    def get_outcome(self, outcome_id: str, include_drafts: bool = False) -> Json:
        """One outcome with its history, children and rolled-up progress; a draft is
        ``NotFound`` unless ``include_drafts`` (staff)."""
        if not isinstance(include_drafts, bool):
            raise ValidationFailed({"include_drafts": ["must be true or false"]})
        with self.db.connection() as conn:
            found = self._outcome(conn, outcome_id)
            if found["published_at"] is None and not include_drafts:
                raise NotFound(f"There is no outcome with id {found['id']}")
            return self._shaped(conn, [found], include_drafts)[0]

    @rpc(expected_exceptions=EXPECTED)
    def list_outcomes(self, filters: Json | None = None) -> Json:
        """Outcomes by place, priority, theme, status and consultation (a consultation finds
        those on its questions too), oldest first; drafts only with ``include_drafts``."""
        clean = load(contract.OutcomeFiltersSchema(), filters or {})
        if clean.get("consultation_id"):
            clean["consultation_id"] = str(clean["consultation_id"])
        with self.db.connection() as conn:
            rows = store.list_outcomes(conn, clean)
            return {"outcomes": self._shaped(conn, rows, clean["include_drafts"])}

    # -- staff: imports -----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def import_outcomes(self, rows: list[Json], actor: Json) -> Json:
        """Rows (``OutcomeImportRowSchema``) keyed on ``reference``: new ones are created
        (drafts), known ones updated (a history entry only when status, progress or reason
        moved), identical ones left alone. Each row is its own transaction: a bad row is
        reported by its line and the good ones are still applied."""
        who = load(ActorSchema(), actor, prefix="actor")
        if not isinstance(rows, list):
            raise ValidationFailed({"rows": ["must be a list of rows"]})
        if len(rows) > IMPORT_MAX:
            raise ValidationFailed({"rows": [f"must be {IMPORT_MAX} rows or fewer"]})
        answer: Json = {"created": 0, "updated": 0, "unchanged": 0, "problems": []}
        seen: dict[str, int] = {}
        for index, raw in enumerate(rows):
            line = domain.row_line(raw, index)
            try:
                row = load(contract.OutcomeImportRowSchema(), raw)
                if row["reference"] in seen:
                    raise ValidationFailed(
                        {"reference": [f"is the same as line {seen[row['reference']]}'s"]}
                    )
                seen[row["reference"]] = line
                with self.db.connection() as conn:
                    result = self._apply_row(conn, row, who, _now(), domain.import_changes)
            except ValidationFailed as failed:
                answer["problems"].append(
                    {"line": line, "reason": domain.reason_text(failed.errors)}
                )
            except (Conflict, NotFound) as failed:
                fields = getattr(failed, "fields", None)
                reason = domain.reason_text(fields) if fields else failed.message
                answer["problems"].append({"line": line, "reason": reason})
            else:
                answer[result] += 1
        log.info(
            "import by %s: %d created, %d updated, %d unchanged, %d problem(s)",
            who["name"],
            answer["created"],
            answer["updated"],
            answer["unchanged"],
            len(answer["problems"]),
        )
        return answer

    def _apply_row(
        self,
        conn: Connection,
        row: Json,
        who: Json | None,
        now: datetime,
        plan: Any,
        publish_at: datetime | None = None,
        note: Json | None = None,
    ) -> str:
        """Create, update or leave the outcome ``row["reference"]`` names: ``created``,
        ``updated`` or ``unchanged``. ``plan(current, row)`` says what a row changes;
        ``publish_at``: the outcome is published (moved from surveys)."""
        if row["parent_id"]:
            store.lock_tree(conn)
        store.lock(conn, f"outcomes:reference:{row['reference']}")
        current = store.by_reference(conn, row["reference"], lock=True)
        if current is None:
            created, first = domain.new_outcome(row, str(uuid.uuid4()), who, now)
            first["note"] = note
            effects = domain.Effects()
            if publish_at is not None:
                created["published_at"] = publish_at
                effects = domain.published(created)
            self._insert(conn, created, first, effects, now)
            return "created"
        changes, update = plan(current, row)
        after = domain.change_record(current, changes, now)
        if after["parent_id"] != current["parent_id"]:
            self._check_parent(conn, current["id"], after["parent_id"])
        made = None
        if update is not None:
            after, made = domain.apply_progress(after, update, who, now, whole=True)
            made["note"] = note
        if publish_at is not None and after["published_at"] is None:
            after = {**after, "published_at": publish_at, "updated_at": now}
            effects = domain.published(after)
        else:
            effects = domain.changed(current, after)
        if after is current:
            return "unchanged"
        self._save(conn, current, after, made, effects, now)
        return "updated"

    # -- consultation outcomes moved over from surveys ----------------------------------------

    @event_handler(SURVEYS, "outcome_published")
    def on_consultation_outcome_published(self, event: Json) -> None:
        """Surveys published (or published again) a consultation's outcome: each decision
        becomes (or updates) a published outcome. Claimed on ``event_id``: a redelivered
        event changes nothing; an older one than already applied is skipped."""
        counts = self._move(domain.read_survey_outcome(event), _now())
        log.info("consultation outcome moved over: %s", counts)

    @rpc(expected_exceptions=EXPECTED)
    def move_consultation_outcomes(self, events: list[Json]) -> Json:
        """Today's consultation outcomes, moved over from surveys' events (its
        ``replay_events``): only ``outcome_published`` is read (others ``ignored``), each
        applied once, as the live handler does (``skipped``: already applied, or older
        than one applied). ``{consultations, outcomes, created, updated, unchanged,
        skipped, ignored}``; ``outcomes``: the decisions the applied events hold."""
        if not isinstance(events, list):
            raise ValidationFailed({"events": ["must be a list of surveys' events"]})
        if len(events) > MOVE_MAX:
            raise ValidationFailed({"events": [f"must be {MOVE_MAX} events or fewer"]})
        wanted, errors = [], {}
        ignored = 0
        for i, event in enumerate(events):
            if not isinstance(event, dict) or event.get("event_type") != "outcome_published":
                ignored += 1
                continue
            try:
                wanted.append(domain.read_survey_outcome(event))
            except ValidationFailed as failed:
                errors.update({f"events.{i}.{k}": v for k, v in failed.errors.items()})
        if errors:
            raise ValidationFailed(errors)
        totals = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "ignored": ignored}
        for moved in wanted:
            for name, count in self._move(moved, _now()).items():
                totals[name] += count
        totals["consultations"] = len({m["consultation_id"] for m in wanted})
        totals["outcomes"] = totals["created"] + totals["updated"] + totals["unchanged"]
        return totals

    def _move(self, moved: Json, now: datetime) -> dict[str, int]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
        with self.db.connection() as conn:
            if moved["event_id"] and not claim_message(conn, moved["event_id"], MOVE_HANDLER):
                counts["skipped"] += 1
                return counts
            store.lock(conn, f"outcomes:consultation:{moved['consultation_id']}")
            last = store.moved_consultation(conn, moved["consultation_id"])
            if last is not None and last["occurred_at"] > moved["occurred_at"]:
                counts["skipped"] += 1
                return counts
            for record in domain.moved_outcomes(moved):
                result = self._apply_row(
                    conn,
                    record,
                    None,
                    now,
                    domain.moved_changes,
                    publish_at=moved["published_at"],
                    note=domain.MOVED_NOTE,
                )
                counts[result] += 1
            store.save_moved(conn, moved)
        return counts

    # -- residents who asked to hear back -----------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def follow(self, follower: Json) -> Json:
        """A resident who asked to hear back (``FollowSchema``), stored once per
        ``follow_id``."""
        stored = self._follow(follower)
        return {"follow_id": stored["follow_id"], "following": True}

    @consume(submissions_queue("outcomes"))
    def store_follow(self, body: Any) -> str:
        """A follow queued by the gateway (``FollowSchema``), stored once; one that is not
        valid raises: retried, then dead-lettered where admins see it."""
        return "stored" if self._follow(body)["new"] else "duplicate"

    def _follow(self, follower: Any) -> Json:
        clean = load(contract.FollowSchema(), follower)
        consent, errors = check_consent(clean["consent"])
        if errors or consent is None:
            raise ValidationFailed(errors)
        links = domain.clean_links(clean["evidence"])
        record = {
            "id": str(clean["follow_id"]),
            "email": clean["email"].strip(),
            "channel": clean["channel"],
            "consent": consent_record(consent["version"]),
            "created_at": _now(),
        }
        with self.db.connection() as conn:
            new = store.insert_follower(conn, record, domain.evidence_rows(links))
        return {"follow_id": record["id"], "new": new}

    @rpc(expected_exceptions=EXPECTED)
    def stop_following(self, token: str) -> Json:
        """A digest's stop link: no more updates to that address (any follow of it), and
        the address is deleted. Asking again answers the same."""
        if not isinstance(token, str) or not 16 <= len(token) <= 200:
            raise NotFound(NO_TOKEN)
        with self.db.connection() as conn:
            found = store.follower_by_token(conn, domain.token_hash(token))
            if found is None:
                raise NotFound(NO_TOKEN)
            ids = {found["id"]}
            if found["email"]:
                ids.update(store.followers_with_email(conn, found["email"]))
            store.stop_followers(conn, sorted(ids), _now())
        return {"stopped": True}

    @timer(interval=DIGEST_INTERVAL)
    def send_digests(self) -> None:
        """Every minute: each follower with news gets at most one digest a UK day."""
        sent = self._send_digests(_now())
        if sent:
            log.info("sent %d digest(s)", sent)

    def _send_digests(self, now: datetime) -> int:
        with self.db.connection() as conn:
            due = store.due_digests(conn, domain.uk_day(now), MAIL_BATCH)
        return sum(self._digest(follower_id, now) for follower_id in due)

    def _digest(self, follower_id: str, now: datetime) -> bool:
        today = domain.uk_day(now)
        with self.db.connection() as conn:
            if not store.try_lock(conn, f"outcomes-digest:{follower_id}"):
                return False
            due = store.digest_for(conn, follower_id, today)
            if due is None:
                return False
            token, hashed = domain.new_token()
            with self.db.connection() as own:  # kept even if this transaction is not
                store.add_token(own, follower_id, hashed)
            public_url = self._public_url()
            stop = domain.stop_url(public_url, token)
            subject, body = domain.digest_email(due["notices"], public_url, stop, ics().name)
            key = domain.digest_key(follower_id, today)
            try:
                outcome = self.mail.send(key, due["email"], subject, body, stop)
            except Exception:
                log.exception("digest %s not sent; the next run tries again", key)
                return False
            if outcome == notify.OPTED_OUT:
                log.info("digest %s not sent: the address opted out of all mail", key)
            store.digest_sent(conn, follower_id, [n["id"] for n in due["notices"]], key, today, now)
        return outcome == notify.SENT

    # -- privacy (UK GDPR) --------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def purge_expired(self, now: str | None = None) -> Json:
        """Purge followers' addresses past retention (``now``: ISO 8601, for tests)."""
        moment = load(PurgeExpiredSchema(), {"now": now})["now"]
        return {"purged": self._purge(moment or _now())}

    @timer(interval=3600)
    def purge_retention(self) -> None:
        """Hourly: addresses of followers whose outcomes are final past retention go."""
        purged = self._purge(_now())
        if purged:
            log.info("purged the addresses of %d follower(s)", purged)

    def _purge(self, now: datetime) -> int:
        before = domain.purge_before(now, ics().retention_days["contact_for_updates"])
        total = 0
        while True:
            with self.db.connection() as conn:
                ids = store.expired_followers(conn, before, PURGE_BATCH)
                if ids:
                    store.purge_followers(conn, ids, now)
            total += len(ids)
            if len(ids) < PURGE_BATCH:
                return total
