"""Dead letters: list them, and replay them once their cause is fixed (``./engage manage
dead-letters``).

A message that failed every retry goes to the queue ``engage.dead-letters``, and while
the projections process runs it moves each one into the gateway database's
``dead_letters`` table. So a letter is in one of two places, and both are listed and
replayed: from the queue by ``engage_common.deadletters`` (each acknowledged once its
republish is confirmed), and from the table a row at a time (the row locked, republished
with a confirm, then deleted and the replay audited in one transaction). A replay that
dies midway loses nothing: a letter republished but not yet removed is replayed again,
and consumers are idempotent on their message ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engage_common import deadletters
from engage_common.db import Pool
from engage_common.deadletters import CannotReplay, DeadLetter
from gateway.store import audit as audit_store
from gateway.store import dead_letters as store
from gateway.store.staff import Row


@dataclass(frozen=True)
class Listed:
    """A dead letter and where it is: ``queue`` or ``stored #<id>``."""

    where: str
    letter: DeadLetter
    received_at: datetime | None = None


def _from_row(row: Row) -> Listed:
    letter = DeadLetter.from_headers(
        row["body"], row["headers"] or {}, message_id=row["message_id"]
    )
    return Listed(f"stored #{row['id']}", letter, row["received_at"])


def list_letters(db: Pool, amqp_uri: str, queue: str | None, limit: int) -> list[Listed]:
    """Letters still on the queue, then those stored, oldest first; ``limit`` of each."""
    waiting = [Listed("queue", x) for x in deadletters.list_letters(amqp_uri, queue, limit)]
    with db.connection() as conn:
        rows = store.stored(conn, queue, limit)
    return waiting + [_from_row(row) for row in rows]


@dataclass
class Replay:
    replayed: list[Listed] = field(default_factory=list)
    refused: list[tuple[Listed, str]] = field(default_factory=list)


def replay(db: Pool, amqp_uri: str, queue: str | None, limit: int | None) -> Replay:
    """Replay up to ``limit`` letters (only those from ``queue`` when given): those on
    the queue first, then the stored ones. Only letters there when it starts are
    replayed, so one that fails again is not replayed twice."""
    with db.connection() as conn:
        stored_ids = [row["id"] for row in store.stored(conn, queue, limit)]
    done = Replay()
    from_queue = deadletters.replay(amqp_uri, queue, limit)
    done.replayed += [Listed("queue", x) for x in from_queue.replayed]
    done.refused += [(Listed("queue", x), why) for x, why in from_queue.refused]
    republish = deadletters.republisher(amqp_uri)
    for letter_id in stored_ids:
        if limit is not None and len(done.replayed) >= limit:
            break
        with db.connection() as conn:
            row = store.take(conn, letter_id)
            if row is None:
                continue  # replayed meanwhile by someone else
            listed = _from_row(row)
            try:
                republish(listed.letter)
            except CannotReplay as why:
                done.refused.append((listed, str(why)))
                continue
            store.remove(conn, letter_id)
            audit_store.audit(
                conn, None, "dead_letter.replay", f"{listed.letter.queue} #{letter_id}"
            )
        done.replayed.append(listed)
    return done
