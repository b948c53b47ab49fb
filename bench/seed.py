"""Seed a national-scale consultation (issue 15, item 4): responses, feedback items and
event points loaded straight into each owning service's database by COPY, as the services
would have stored them, then the gateway's read model rebuilt from their events.

    .venv/bin/python bench/seed.py --responses 1000000 --feedback 200000 --event-points 20000

Each row is what the service stores for it (the same columns, consent, channel, equality
answers, redacted free text and its redactions, suggested themes and tone, feedback's
safeguarding and language checks, history) with its outbox event, marked published (the
read model gets them by the rebuild, not by the relay). Free text is redacted and its
themes suggested with the services' own functions (``engage_common.redaction``,
``engage_contracts.suggestions`` through each service's ``domain``), in a process pool:
each *distinct* text once (``--distinct``, default 5,000 per kind; rows reuse them),
because at 0.3 ms a redaction and 0.3 ms a suggestion a million distinct texts would take
about 5 minutes of both cores (see bench/README.md). The rows are written by the same pool,
a chunk a transaction, each worker on its own connection.

Databases: ``--pg-base`` (``PG_BASE``, default ``postgresql://postgres@127.0.0.1:5432``)
and ``--db-prefix`` (``ENGAGE_DB_PREFIX``, default ``engage_``), as ``./engage up`` names
them; ``--consultation`` (default: the newest open one) is the one filled. The rebuild
(``gateway.readmodels.rebuild``, ``--swap``) needs the services running (``AMQP_URI``);
``--no-rebuild`` leaves it out. Stop the projections process first, as for
``./engage manage rebuild-read-models --swap``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engage_common.db import Pool, connect
from engage_contracts import population
from engage_contracts.questionnaire import LIKERT_OPTIONS
from engage_contracts.reference import EQUALITY_VERSION, current_consent, places, validate_equality

CHUNK = 25_000  # rows a transaction (and a task of the pool)
DISTINCT = 5_000

SAYINGS = (
    "I waited three weeks for an appointment and nobody called me back.",
    "The staff were kind and explained everything to my mum.",
    "Please keep face to face appointments for people who are not online.",
    "There is no bus to the new clinic from our estate, so I had to get a taxi.",
    "The pharmacy ran out of my prescription twice this winter.",
    "Mental health support for young people takes far too long to get.",
    "Parking at the hospital is expensive and there are never any spaces.",
    "The receptionist was rude when I asked for an interpreter.",
)
DETAILS = (
    "",
    "Call me on 07700 900{n:03d} if you want to know more.",
    "My email is resident{n}@example.com.",
    "We live in LS{d} and the surgery is miles away.",
    "It has been like this for {n} days now.",
    "",
)
ABOUT = ("GP surgery", "Hospital", "Pharmacy", "Dentist", "Mental health service", "Transport")
CHANNELS = ("online", "phone", "paper", "event", "online", "online")
FEEDBACK_CHANNELS = ("online", "phone", "email", "letter", "event", "healthwatch", "partner")
EQUALITY = {
    "age_band": ("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84"),
    "sex": ("female", "male", "prefer-not-to-say"),
    "ethnicity": ("white-british", "asian-pakistani", "black-african", "asian-indian"),
    "disability": ("no", "yes-a-little", "yes-a-lot"),
    "unpaid_carer": ("no", "yes-up-to-9", "yes-20-34"),
}


def text_of(v: int) -> str:
    """The ``v``-th distinct free text: a saying, sometimes with personal details."""
    detail = DETAILS[(v // len(SAYINGS)) % len(DETAILS)].format(n=v % 1000, d=v % 30 + 1)
    return f"{SAYINGS[v % len(SAYINGS)]} {detail}".strip() + ("" if v < 64 else f" ({v})")


def equality_variants() -> list[dict[str, Any]]:
    """A few dozen equality answers, each checked by the contract the services use."""
    out = []
    for i in range(60):
        answers = {
            k: values[(i * (j + 1)) % len(values)] for j, (k, values) in enumerate(EQUALITY.items())
        }
        clean, errors = validate_equality(answers)
        if errors:
            raise ValueError(f"equality answers the services would reject: {errors}")
        out.append(clean)
    return out


# -- COPY text format ----------------------------------------------------------------------------


def esc(value: Any) -> str:
    """One field of COPY's text format (``\\N`` for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return esc("{" + ",".join(json.dumps(str(v)) for v in value) + "}")
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text


def js(value: Any) -> str:
    return esc(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def line(*fields: str) -> str:
    return "\t".join(fields) + "\n"


def copy(conn: Any, table: str, columns: str, lines: Iterable[str]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        buffer: list[str] = []
        for text in lines:
            buffer.append(text)
            if len(buffer) >= 2000:
                cp.write("".join(buffer))
                buffer.clear()
        if buffer:
            cp.write("".join(buffer))


# -- the pool's work: distinct texts checked once, rows written a chunk at a time -------------


_STATE: dict[str, Any] = {}


def _init(state: dict[str, Any]) -> None:
    random.seed(os.urandom(16))  # forked workers would otherwise draw the same ids
    _STATE.update(state)


def check_response_texts(vs: list[int], themes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Redaction and suggestions of distinct response texts, as surveys stores them
    (``_store_accepted``): COPY-ready fragments per text."""
    from engage_common.redaction import REDACTOR_VERSION, REPLACEMENTS, redact_all
    from surveys import domain

    placeholders = tuple(REPLACEMENTS.values())
    texts = [text_of(v) for v in vs]
    records = domain.redaction_records(
        [{"why": t} for t in texts], redact_all(texts), REDACTOR_VERSION
    )
    out = []
    for text, record in zip(texts, records, strict=True):
        suggested = domain.answer_suggestions(record["redacted_answers"], themes, placeholders)
        out.append(
            {
                "text": text,
                "redacted": record["redacted_answers"]["why"],
                "redactions": js(record["redactions"]["why"]),
                "version": esc(record["redactor_version"]),
                "themes": js(suggested["why"]["suggested_themes"]),
                "tone": esc(suggested["why"]["suggested_tone"]),
            }
        )
    return out


def check_feedback_texts(vs: list[int], themes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each distinct feedback text through feedback's checks (redaction of the subject and
    the text, safeguarding, language) and ``domain.new_item`` (suggestions)."""
    from engage_common import language, safeguarding
    from engage_common.redaction import redact_all
    from feedback import domain

    out = []
    now = datetime.now(UTC)
    for v in vs:
        about, text = ABOUT[v % len(ABOUT)], text_of(v * 7 + 3)
        r_about, r_text = redact_all([about, text])
        checks = domain.Checks(
            r_about,
            r_text,
            safeguarding.assess(f"{about}\n{text}"),
            language.looks_english(text),
        )
        message = {
            "submission_id": str(uuid.uuid4()),
            "receipt_code": "x",
            "kind": "comment",
            "about": about,
            "text": text,
            "channel": "online",
            "may_quote": False,
            "reply_by": "none",
            "submitted_at": now,
        }
        item = domain.new_item(message, "x", checks, themes, now)
        out.append({k: item[k] for k in CHECKED_FEEDBACK})
    return out


CHECKED_FEEDBACK = (
    "about",
    "about_original",
    "text",
    "text_original",
    "redactions",
    "redactor_version",
    "language_check",
    "urgent",
    "safeguarding_categories",
    "safeguarding_matches",
    "suggested_themes",
    "suggested_tone",
)


def check_point_texts(vs: list[int]) -> list[dict[str, Any]]:
    from engage_common.redaction import redact_all

    texts = [text_of(v * 13 + 5) for v in vs]
    return [
        {"text": t, "redacted": r.text, "redactions": r.found, "version": str(r.version)}
        for t, r in zip(texts, redact_all(texts), strict=True)
    ]


RESPONSE_COLUMNS = (
    "id, submission_id, receipt_code, consultation_id, answers, place, consent, submitted_at,"
    " channel, redacted_answers, redactions, redactor_version"
)


def answers_for(questions: list[dict[str, Any]], i: int, text: str | None) -> dict[str, Any]:
    """A resident's answers to ``questions``: every choice question answered, free text
    when ``text`` is given."""
    answers: dict[str, Any] = {}
    for q in questions:
        kind, options = q.get("type"), [o["value"] for o in q.get("options") or []]
        if kind == "single_choice" and options:
            answers[q["id"]] = options[i % len(options)]
        elif kind == "multiple_choice" and options:
            answers[q["id"]] = sorted({options[i % len(options)], options[(i // 3) % len(options)]})
        elif kind == "likert":
            answers[q["id"]] = LIKERT_OPTIONS[i % len(LIKERT_OPTIONS)]["value"]
        elif kind == "rating":
            answers[q["id"]] = (i * 7) % 11
        elif kind == "ranking" and options:
            k = i % len(options)
            answers[q["id"]] = options[k:] + options[:k]
        elif kind == "free_text" and text is not None:
            answers[q["id"]] = text
    return answers


def write_responses(start: int, count: int, first_id: int) -> int:
    """Responses ``start .. start + count`` with ids from ``first_id``: their equality
    answers, suggested themes and ``response_submitted`` events, in one transaction."""
    s = _STATE
    cid, questions, run = s["consultation_id"], s["questions"], s["run"]
    free = [q["id"] for q in questions if q.get("type") == "free_text"]
    checked, equalities = s["response_texts"], s["equalities"]
    coarse = [json.dumps(population.coarse_groups(e), separators=(",", ":")) for e in equalities]
    place_codes = s["places"]
    consent = js(s["consent"])
    base = datetime.fromisoformat(s["now"])
    responses, equality_rows, theme_rows, events = [], [], [], []
    for k in range(count):
        i = start + k
        rid = first_id + k
        c = checked[i % len(checked)] if free and i % 2 == 0 else None
        answers = answers_for(questions, i, c["text"] if c else None)
        place = place_codes[i % len(place_codes)] if i % 7 else None
        channel = CHANNELS[i % len(CHANNELS)]
        submitted = (base - timedelta(seconds=i % (60 * 86400))).isoformat()
        sid = new_id()
        receipt = f"S{run}-{i:08d}"
        redacted = {qid: c["redacted"] for qid in free} if c else {}
        redactions = (
            "{" + ",".join(f'"{qid}":{c["redactions"]}' for qid in free) + "}" if c else "{}"
        )
        responses.append(
            line(
                str(rid),
                sid,
                receipt,
                cid,
                js(answers),
                esc(place),
                consent,
                submitted,
                channel,
                js(redacted),
                redactions,
                c["version"] if c else s["redactor_version"],
            )
        )
        equality = equalities[i % len(equalities)] if i % 3 == 0 else None
        if equality is not None:
            equality_rows.append(line(str(rid), cid, EQUALITY_VERSION, js(equality), esc(place)))
        if c:
            for qid in free:
                theme_rows.append(line(str(rid), qid, cid, c["themes"], c["tone"]))
        groups = coarse[i % len(equalities)] if equality is not None else "{}"
        events.append(
            response_event_line(rid, cid, receipt, place, channel, submitted, groups, s["now"])
        )
    with connect(s["urls"]["surveys"]) as conn:
        copy(conn, "responses", RESPONSE_COLUMNS, responses)
        copy(
            conn,
            "equality_monitoring",
            "response_id, consultation_id, question_set, answers, derived_place",
            equality_rows,
        )
        copy(
            conn,
            "answer_themes",
            "response_id, question_id, consultation_id, suggested_themes, suggested_tone",
            theme_rows,
        )
        copy(conn, "outbox", OUTBOX_COLUMNS, events)
        conn.commit()
    return count


OUTBOX_COLUMNS = "event_id, source, event_type, payload, created_at, published_at"


def new_id() -> str:
    """A random (version 4) UUID, cheaper than ``uuid.uuid4()`` a million times."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def event_line(source: str, event_type: str, payload: dict[str, Any], now: str) -> str:
    """An outbox row as ``record_event`` writes it, already published."""
    event_id = new_id()
    body = {**payload, "event_id": event_id, "event_type": event_type, "occurred_at": now}
    return line(event_id, source, event_type, js(body), now, now)


def response_event_line(
    rid: int,
    cid: str,
    receipt: str,
    place: str | None,
    channel: str,
    at: str,
    groups: str,
    now: str,
) -> str:
    """``event_line`` of ``response_submitted`` (``domain.response_submitted``), written out
    by hand: a million ``json.dumps`` are a fifth of the seeding. ``groups`` is the JSON of
    ``population.coarse_groups``; every other value is plain (ids, codes, ISO times)."""
    event_id = new_id()
    where = "null" if place is None else f'"{place}"'
    body = (
        f'{{"consultation_id":"{cid}","response_id":{rid},"receipt_code":"{receipt}",'
        f'"place":{where},"channel":"{channel}","submitted_at":"{at}","equality":{groups},'
        f'"event_id":"{event_id}","event_type":"response_submitted","occurred_at":"{now}"}}'
    )
    return line(event_id, "surveys", "response_submitted", esc(body), now, now)


FEEDBACK_COLUMNS = (
    "id, submission_id, receipt_code, kind, about, about_original, text, text_original,"
    " redactions, redactor_version, language_check, urgent, safeguarding_categories,"
    " safeguarding_matches, place, consultation_id, channel, status, suggested_themes,"
    " suggested_tone, may_quote, reply_by, consent, received_at, updated_at"
)


def write_feedback(start: int, count: int) -> int:
    """Feedback items ``start .. start + count`` with their history and events."""
    from feedback import domain

    s = _STATE
    checked, place_codes, run = s["feedback_texts"], s["places"], s["run"]
    kinds = s["feedback_kinds"]
    base = datetime.fromisoformat(s["now"])
    now = s["now"]
    consent = js(s["consent"])
    items, history, events = [], [], []
    for k in range(count):
        i = start + k
        c = checked[i % len(checked)]
        fid = new_id()
        place = place_codes[i % len(place_codes)] if i % 9 else None
        channel = FEEDBACK_CHANNELS[i % len(FEEDBACK_CHANNELS)]
        received = (base - timedelta(minutes=i % (730 * 24 * 60))).isoformat()
        item = {
            **c,
            "id": fid,
            "kind": kinds[i % len(kinds)],
            "place": place,
            "channel": channel,
            "consultation_id": s["consultation_id"] if i % 5 == 0 else None,
            "received_at": received,
            "equality": None,
        }
        items.append(
            line(
                fid,
                fid,
                f"F{run}-{i:08d}",
                item["kind"],
                esc(c["about"]),
                esc(c["about_original"]),
                esc(c["text"]),
                esc(c["text_original"]),
                js(c["redactions"]),
                esc(c["redactor_version"]),
                c["language_check"],
                esc(c["urgent"]),
                esc(c["safeguarding_categories"]),
                esc(c["safeguarding_matches"]),
                esc(place),
                esc(item["consultation_id"]),
                channel,
                "received",
                js(c["suggested_themes"]),
                esc(c["suggested_tone"]),
                "f",
                "none",
                consent,
                received,
                now,
            )
        )
        history.append(line(fid, received, "\\N", "\\N", "received", js({"channel": channel})))
        events.append(event_line("feedback", "feedback_received", domain.received(item), now))
        if c["urgent"]:
            detail = {"categories": list(c["safeguarding_categories"])}
            history.append(line(fid, received, "\\N", "\\N", "flagged urgent", js(detail)))
            events.append(event_line("feedback", "safeguarding_flagged", domain.flagged(item), now))
    with connect(s["urls"]["feedback"]) as conn:
        copy(conn, "feedback_items", FEEDBACK_COLUMNS, items)
        copy(
            conn, "feedback_history", "feedback_id, at, staff_id, by_name, action, detail", history
        )
        copy(conn, "outbox", OUTBOX_COLUMNS, events)
        conn.commit()
    return count


def write_points(start: int, count: int) -> int:
    """Event points ``start .. start + count``, a hundred an engagement event (made here,
    published, in the past), with ``point_heard`` events."""
    from events import domain

    s = _STATE
    checked, place_codes, run, now = s["point_texts"], s["places"], s["run"], s["now"]
    theme_slugs = s["point_themes"]
    base = datetime.fromisoformat(now)
    engagement, points, events = [], [], []
    event: dict[str, Any] = {}
    recorded_by = js({"staff_id": 0, "name": "Seed"})
    for k in range(count):
        i = start + k
        if k == 0 or i % 100 == 0:
            starts = base - timedelta(days=1 + (i // 100) % 700)
            event = {
                "id": str(uuid.uuid4()),
                "place": place_codes[(i // 100) % len(place_codes)],
                "starts_at": starts,
                "consultation_ids": [s["consultation_id"]],
            }
            engagement.append(
                line(
                    event["id"],
                    "community-meeting",
                    js({"en": f"Seeded meeting {run}-{i // 100}"}),
                    event["place"],
                    starts.isoformat(),
                    (starts + timedelta(hours=2)).isoformat(),
                    esc(event["consultation_ids"]),
                    "published",
                    starts.isoformat(),
                )
            )
        c = checked[i % len(checked)]
        themes = [theme_slugs[i % len(theme_slugs)]] if theme_slugs and i % 2 else []
        point = {
            "id": str(uuid.uuid4()),
            "themes": themes,
            "tone": ("positive", "negative", "mixed", None)[i % 4],
            "place": event["place"],
        }
        redactions = [
            {"in": "text", "kind": f.kind, "start": f.start, "end": f.end} for f in c["redactions"]
        ]
        points.append(
            line(
                point["id"],
                event["id"],
                esc(c["redacted"]),
                esc(c["text"]),
                js(redactions),
                esc(c["version"]),
                esc(themes),
                esc(point["tone"]),
                esc(point["place"]),
                "f",
                recorded_by,
                event["starts_at"].isoformat(),
            )
        )
        events.append(event_line("events", "point_heard", domain.point_heard(point, event), now))
    with connect(s["urls"]["events"]) as conn:
        copy(
            conn,
            "engagement_events",
            "id, kind, title, place, starts_at, ends_at, consultation_ids, status, published_at",
            engagement,
        )
        copy(
            conn,
            "points",
            "id, event_id, text, text_original, redactions, redactor_version, themes, tone,"
            " place, may_quote, recorded_by, recorded_at",
            points,
        )
        copy(conn, "outbox", OUTBOX_COLUMNS, events)
        conn.commit()
    return count


# -- the command ----------------------------------------------------------------------------


@dataclass
class Seeded:
    responses: int = 0
    feedback: int = 0
    points: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        took = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return (
            f"seeded {self.responses:,} responses, {self.feedback:,} feedback items and "
            f"{self.points:,} event points ({took})"
        )


def _reserve_ids(url: str, n: int) -> int:
    """The first of ``n`` response ids taken from surveys' sequence in one go (the table
    locked against inserts for the moment it takes, so the block is contiguous)."""
    with connect(url) as conn:
        conn.execute("LOCK TABLE responses IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute("SELECT last_value, is_called FROM responses_id_seq").fetchone()
        first = row["last_value"] + 1 if row["is_called"] else row["last_value"]
        conn.execute("SELECT setval('responses_id_seq', %s)", (first + n - 1,))
        conn.commit()
    return first


ANALYZED = {  # the tables written, for the planner (a statement per database)
    "surveys": ("responses", "equality_monitoring", "answer_themes", "result_counts", "outbox"),
    "feedback": ("feedback_items", "feedback_history", "outbox"),
    "events": ("engagement_events", "points", "outbox"),
}


class _InProcess(Executor):
    """One worker: this process (a small seed, e.g. the bench's smoke run, does not pay
    for starting a pool)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(fn(*args, **kwargs))
        return done


def _pool(workers: int, state: dict[str, Any] | None = None) -> Executor:
    if workers <= 1:
        if state is not None:
            _init(state)
        return _InProcess()
    if state is None:
        return ProcessPoolExecutor(workers)
    return ProcessPoolExecutor(workers, initializer=_init, initargs=(state,))


def _chunks(total: int) -> list[tuple[int, int]]:
    return [(start, min(CHUNK, total - start)) for start in range(0, total, CHUNK)]


def seed(
    urls: dict[str, str],
    consultation_id: str,
    responses: int,
    feedback: int,
    points: int,
    workers: int = 2,
    distinct: int = DISTINCT,
    offset: int = 0,
    say: Callable[[str], None] = print,
) -> Seeded:
    """Fill the services' databases (``urls``: surveys, feedback, events); ``offset``
    numbers the rows after an earlier call's (receipt codes stay unique)."""
    from engage_contracts.feedback import KINDS

    done = Seeded()
    t0 = time.perf_counter()
    with connect(urls["surveys"]) as conn:
        consultation = conn.execute(
            "SELECT id, questionnaire FROM consultations WHERE id = %s", (consultation_id,)
        ).fetchone()
        if consultation is None:
            raise SystemExit(f"no consultation {consultation_id} in {urls['surveys']}")
        response_themes = conn.execute(
            "SELECT slug, label, keywords FROM themes WHERE active"
        ).fetchall()
    with connect(urls["feedback"]) as conn:
        feedback_themes = conn.execute(
            "SELECT slug, label, keywords FROM themes WHERE active"
        ).fetchall()
    with connect(urls["events"]) as conn:
        point_themes = [r["slug"] for r in conn.execute("SELECT slug FROM themes WHERE active")]
    from engage_common.redaction import REDACTOR_VERSION

    state: dict[str, Any] = {
        "urls": urls,
        "consultation_id": str(consultation["id"]),
        "questions": consultation["questionnaire"]["questions"],
        "run": uuid.uuid4().hex[:6],
        "now": datetime.now(UTC).isoformat(),
        "places": list(places()),
        "consent": {"given": True, "version": current_consent()["version"]},
        "equalities": equality_variants(),
        "redactor_version": REDACTOR_VERSION,
        "feedback_kinds": list(KINDS),
        "point_themes": point_themes,
    }
    with _pool(workers) as pool:
        # Distinct texts, checked once each, in parallel.
        def checked(fn: Callable[..., list[Any]], n: int, *extra: Any) -> list[Any]:
            vs = list(range(offset, offset + min(n, distinct)))
            parts = [vs[k : k + 1000] for k in range(0, len(vs), 1000)]
            return [
                x for part in pool.map(fn, parts, *[[e] * len(parts) for e in extra]) for x in part
            ]

        t = time.perf_counter()
        state["response_texts"] = checked(check_response_texts, responses, response_themes) or [{}]
        state["feedback_texts"] = checked(check_feedback_texts, feedback, feedback_themes) or [{}]
        state["point_texts"] = checked(check_point_texts, points) or [{}]
        done.seconds["redaction and suggestions"] = time.perf_counter() - t
        say(f"  checked distinct texts in {done.seconds['redaction and suggestions']:.1f} s")
    t = time.perf_counter()
    first_id = _reserve_ids(urls["surveys"], responses) if responses else 0
    with _pool(workers, state) as pool:
        futures = [
            pool.submit(write_responses, offset + start, n, first_id + start)
            for start, n in _chunks(responses)
        ]
        futures += [pool.submit(write_feedback, offset // 5 + s, n) for s, n in _chunks(feedback)]
        futures += [pool.submit(write_points, offset // 50 + s, n) for s, n in _chunks(points)]
        for f in futures:
            f.result()
    done.responses, done.feedback, done.points = responses, feedback, points
    done.seconds["COPY"] = time.perf_counter() - t
    t = time.perf_counter()
    for owner, tables in ANALYZED.items():
        with connect(urls[owner], autocommit=True) as conn:
            conn.execute(f"ANALYZE {', '.join(tables)}")
    done.seconds["ANALYZE"] = time.perf_counter() - t
    done.seconds["total"] = time.perf_counter() - t0
    return done


def rebuild_read_model(gateway_url: str, amqp_uri: str, timeout: float = 60) -> tuple[float, Any]:
    """``./engage manage rebuild-read-models --swap``: seconds taken and its report."""
    from gateway.readmodels.rebuild import rebuild
    from gateway.rpc import Services

    t = time.perf_counter()
    db = Pool(gateway_url, size=1)
    try:
        report = rebuild(db, Services(amqp_uri, timeout).call, swap=True)
    finally:
        db.close()
    return time.perf_counter() - t, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--event-points", type=int, default=20_000)
    parser.add_argument("--consultation", help="the consultation to fill (default: newest open)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--distinct", type=int, default=DISTINCT, help="distinct texts a kind")
    parser.add_argument(
        "--pg-base", default=os.environ.get("PG_BASE", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--db-prefix", default=os.environ.get("ENGAGE_DB_PREFIX", "engage_"))
    parser.add_argument(
        "--amqp-uri", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--no-rebuild", action="store_true")
    args = parser.parse_args(argv)
    urls = {
        o: f"{args.pg_base}/{args.db_prefix}{o}"
        for o in ("surveys", "feedback", "events", "gateway")
    }
    cid = args.consultation
    if cid is None:
        with connect(urls["surveys"]) as conn:
            row = conn.execute(
                "SELECT id FROM consultations WHERE status = 'open'"
                " ORDER BY created_at DESC LIMIT 1"
            ).fetchone()
        if row is None:
            raise SystemExit("no open consultation: create and open one, or pass --consultation")
        cid = str(row["id"])
    done = seed(
        urls, cid, args.responses, args.feedback, args.event_points, args.workers, args.distinct
    )
    print(done)
    if not args.no_rebuild:
        seconds, report = rebuild_read_model(urls["gateway"], args.amqp_uri)
        events = ", ".join(f"{n:,} from {s}" for s, n in report.events.items())
        print(f"read model rebuilt from {events} events in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
