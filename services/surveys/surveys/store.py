"""SQL for the surveys database, and nothing else: parameterised psycopg queries.

Every function takes a connection that is already inside the caller's
transaction. Results are aggregated in SQL over the JSONB answers, so a large
consultation never has to be loaded into the service to be counted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import Connection, sql
from psycopg.types.json import Jsonb

from engage_contracts import questionnaire as qn
from engage_contracts.reference import ALL_EQUALITY_FIELDS, EQUALITY_VERSION

_SELECT = """
SELECT c.*, (SELECT count(*) FROM responses r WHERE r.consultation_id = c.id)
       AS response_count
FROM consultations c
"""


# The equality-monitoring answers, selected beside a response (``e`` joined on it): the
# document and the question set it was asked in (NULL for a resident who gave none).
_EQUALITY = "e.answers AS equality, e.question_set"


def get_consultation(
    conn: Connection, consultation_id: str, lock: str | None = None, with_count: bool = False
) -> dict[str, Any] | None:
    """One consultation; ``lock`` is ``"update"`` or ``"share"`` to lock its row.
    ``with_count`` adds ``response_count`` (a count over its responses: only for
    callers that show it)."""
    query = (_SELECT if with_count else "SELECT c.* FROM consultations c ") + "WHERE c.id = %s"
    if lock == "update":
        query += " FOR UPDATE OF c"
    elif lock == "share":
        query += " FOR SHARE OF c"
    return conn.execute(query, (consultation_id,)).fetchone()


def list_consultations(
    conn: Connection,
    now: datetime,
    status: str | None = None,
    place: str | None = None,
    priority: str | None = None,
    accepting: bool | None = None,
) -> list[dict[str, Any]]:
    clauses, params = [], []
    if status is not None:
        clauses.append("c.status = %s")
        params.append(status)
    if place is not None:
        clauses.append("%s = ANY(c.places)")
        params.append(place)
    if priority is not None:
        clauses.append("%s = ANY(c.priorities)")
        params.append(priority)
    if accepting is not None:
        test = "(c.status = 'open' AND c.opens_at <= %s AND %s < c.closes_at)"
        clauses.append(test if accepting else f"NOT coalesce({test}, false)")
        params += [now, now]
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    order = " ORDER BY c.closes_at NULLS LAST, c.created_at, c.id"
    return conn.execute(_SELECT + where + order, params).fetchall()


def insert_consultation(conn: Connection, c: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO consultations (id, title, summary, description, places, priorities,"
        " opens_at, closes_at, status, questionnaire, created_at, updated_at, easy_read)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            c["id"],
            Jsonb(c["title"]),
            Jsonb(c["summary"]),
            Jsonb(c["description"]),
            c["places"],
            c["priorities"],
            c["opens_at"],
            c["closes_at"],
            c["status"],
            Jsonb(c["questionnaire"]),
            c["created_at"],
            c["updated_at"],
            _easy_read(c),
        ),
    )


def _easy_read(c: dict[str, Any]) -> Jsonb | None:
    return Jsonb(c["easy_read"]) if c.get("easy_read") is not None else None


def save_consultation(conn: Connection, c: dict[str, Any]) -> datetime:
    """Save a consultation (locked by the caller); its ``updated_at`` as stored: the
    database's clock, and always later than the one before (surveys' instances on hosts
    whose clocks differ still stamp one consultation's changes in order, which the
    gateway's snapshots go by)."""
    row = conn.execute(
        "UPDATE consultations SET title = %s, summary = %s, description = %s, places = %s,"
        " priorities = %s, opens_at = %s, closes_at = %s, status = %s, questionnaire = %s,"
        " outcome = %s, updated_at = GREATEST(clock_timestamp(),"
        " updated_at + interval '1 microsecond'), opened_at = %s, closed_at = %s,"
        " easy_read = %s WHERE id = %s RETURNING updated_at",
        (
            Jsonb(c["title"]),
            Jsonb(c["summary"]),
            Jsonb(c["description"]),
            c["places"],
            c["priorities"],
            c["opens_at"],
            c["closes_at"],
            c["status"],
            Jsonb(c["questionnaire"]),
            Jsonb(c["outcome"]) if c.get("outcome") is not None else None,
            c.get("opened_at"),
            c.get("closed_at"),
            _easy_read(c),
            c["id"],
        ),
    ).fetchone()
    return row["updated_at"]


def open_past_close(conn: Connection, before: datetime, limit: int = 100) -> list[str]:
    """Ids of open consultations whose close date is before ``before``, locked."""
    rows = conn.execute(
        "SELECT id FROM consultations WHERE status = 'open' AND closes_at <= %s"
        " ORDER BY closes_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (before, limit),
    ).fetchall()
    return [str(r["id"]) for r in rows]


def _rows(width: int, count: int) -> str:
    """``(%s, ...), ...``: ``count`` rows of ``width`` placeholders, for a multi-row VALUES."""
    return ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * count)


def claim_submissions(conn: Connection, submission_ids: list[str], handler: str) -> set[str]:
    """``claim_message`` for a batch in one statement: the ids seen for the first time."""
    if not submission_ids:
        return set()
    rows = conn.execute(
        "INSERT INTO processed_messages (message_id, handler) SELECT DISTINCT m, %s"
        " FROM unnest(%s::text[]) m ON CONFLICT DO NOTHING RETURNING message_id",
        (handler, submission_ids),
    ).fetchall()
    return {r["message_id"] for r in rows}


def insert_responses(conn: Connection, responses: list[dict[str, Any]]) -> list[int | None]:
    """Store judged responses (``domain.judge_submission``) with the redaction of their
    free text (``domain.redaction_records``) and their equality answers, with the
    question set they were asked in, in a statement or two: each one's id, in order, or
    ``None`` for one whose ``submission_id`` was already stored."""
    if not responses:
        return []
    params: list[Any] = []
    for r in responses:
        params += [
            r["submission_id"],
            r["receipt_code"],
            r["consultation_id"],
            Jsonb(r["answers"]),
            r["place"],
            Jsonb(r["consent"]) if r.get("consent") else None,
            r["submitted_at"],
            r["channel"],
            Jsonb(r["entered_by"]) if r.get("entered_by") else None,
            Jsonb(r["redacted_answers"]),
            Jsonb(r["redactions"]),
            r["redactor_version"],
        ]
    rows = conn.execute(
        "INSERT INTO responses (submission_id, receipt_code, consultation_id, answers, place,"
        " consent, submitted_at, channel, entered_by, redacted_answers, redactions,"
        f" redactor_version) VALUES {_rows(12, len(responses))}"
        " ON CONFLICT (submission_id) DO NOTHING RETURNING id, submission_id",
        params,
    ).fetchall()
    stored = {r["submission_id"]: r["id"] for r in rows}
    ids = [stored.get(uuid.UUID(str(r["submission_id"]))) for r in responses]
    equality = [(r, i) for r, i in zip(responses, ids, strict=True) if r["equality"] and i]
    if equality:
        conn.execute(
            "INSERT INTO equality_monitoring"
            " (response_id, consultation_id, question_set, answers, derived_place)"
            f" VALUES {_rows(5, len(equality))}",
            [
                value
                for r, response_id in equality
                for value in (
                    response_id,
                    r["consultation_id"],
                    EQUALITY_VERSION,
                    Jsonb(r["equality"]),
                    r["derived_place"],
                )
            ],
        )
    return ids


def insert_rejected(conn: Connection, rejection: dict[str, Any]) -> None:
    """Record why a submission was not stored (``domain.judge_submission``), once."""
    conn.execute(
        "INSERT INTO rejected_submissions (submission_id, receipt_code, consultation_id,"
        " reasons, submitted_at) VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (
            rejection["submission_id"],
            rejection["receipt_code"],
            rejection["consultation_id"],
            Jsonb(rejection["reasons"]),
            rejection["submitted_at"],
        ),
    )


def find_receipt(conn: Connection, receipt_code: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT receipt_code, consultation_id::text AS consultation_id, 'stored' AS status,"
        " '[]'::jsonb AS reasons, submitted_at FROM responses WHERE receipt_code = %s"
        " UNION ALL SELECT receipt_code, consultation_id, 'rejected', reasons, submitted_at"
        " FROM rejected_submissions WHERE receipt_code = %s LIMIT 1",
        (receipt_code, receipt_code),
    ).fetchone()
    return row


def _filtered(consultation_id: str, filters: dict[str, str]) -> tuple[sql.Composed, list[Any]]:
    """A ``WITH f AS (...)`` CTE of the consultation's responses that match ``filters``."""
    clauses = [sql.SQL("r.consultation_id = %s")]
    params: list[Any] = [consultation_id]
    for key, value in sorted(filters.items()):
        if key == "place":
            clauses.append(sql.SQL("r.place = %s"))
            params.append(value)
        elif key in ALL_EQUALITY_FIELDS:
            # a single answer, or one of the answers to a multiple-choice question
            clauses.append(sql.SQL("(e.answers @> %s OR e.answers @> %s)"))
            params += [Jsonb({key: value}), Jsonb({key: [value]})]
        else:  # pragma: no cover - filters are validated by ResultsFiltersSchema first
            raise ValueError(f"unknown filter {key}")
    cte = sql.SQL(
        "WITH f AS (SELECT r.id, r.answers, r.redacted_answers FROM responses r"
        " LEFT JOIN equality_monitoring e ON e.response_id = r.id WHERE {}) "
    ).format(sql.SQL(" AND ").join(clauses))
    return cte, params


def breakdown(
    conn: Connection, consultation_id: str, field: str, filters: dict[str, str]
) -> dict[str | None, int]:
    """How many of the consultation's responses that match ``filters`` hold each value of
    ``field`` (``place``, or an equality answer: a multiple-choice answer counts once per
    value): the breakdown a filter on ``field`` takes a group from."""
    cte, params = _filtered(consultation_id, filters)
    if field == "place":
        query = sql.SQL(
            "SELECT r.place AS value, count(*) AS n FROM f JOIN responses r ON r.id = f.id"
            " GROUP BY 1"
        )
        extra: list[Any] = []
    else:
        query = sql.SQL(
            "SELECT v.value, count(*) AS n FROM f"
            " JOIN equality_monitoring e ON e.response_id = f.id,"
            " LATERAL (SELECT e.answers->>%s AS value WHERE jsonb_typeof(e.answers->%s) ="
            " 'string' UNION ALL SELECT jsonb_array_elements_text(e.answers->%s)"
            " WHERE jsonb_typeof(e.answers->%s) = 'array') v GROUP BY 1"
        )
        extra = [field] * 4
    rows = conn.execute(cte + query, [*params, *extra]).fetchall()
    return {r["value"]: r["n"] for r in rows}


def aggregate_results(
    conn: Connection, consultation: dict[str, Any], filters: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """``(total responses, aggregates)`` for ``domain.shape_results``, counted over every
    response that matches ``filters``: for filters ``result_counts`` cannot answer (those
    on equality answers). A scan of the consultation's responses."""
    questions = consultation["questionnaire"]["questions"]
    by_type: dict[str, list[str]] = {}
    for q in questions:
        by_type.setdefault(q["type"], []).append(q["id"])
    cte, params = _filtered(str(consultation["id"]), filters)

    def run(query: str, *extra: Any) -> list[dict[str, Any]]:
        return conn.execute(cte + sql.SQL(query), [*params, *extra]).fetchall()

    total = run("SELECT count(*) AS n FROM f")[0]["n"]
    answered = {
        r["question"]: r["n"]
        for r in run(
            "SELECT a.key AS question, count(*) AS n FROM f, jsonb_each(f.answers) a GROUP BY 1"
        )
    }

    counts: dict[str, dict[str, int]] = {}
    scalar = (
        by_type.get("single_choice", []) + by_type.get("likert", []) + by_type.get("rating", [])
    )
    for r in run(
        "SELECT a.key AS question, a.value #>> '{}' AS value, count(*) AS n"
        " FROM f, jsonb_each(f.answers) a WHERE a.key = ANY(%s)"
        " AND jsonb_typeof(a.value) IN ('string', 'number') GROUP BY 1, 2",
        scalar,
    ):
        counts.setdefault(r["question"], {})[r["value"]] = r["n"]
    for r in run(
        "SELECT a.key AS question, el #>> '{}' AS value, count(*) AS n"
        " FROM f, jsonb_each(f.answers) a, jsonb_array_elements(a.value) el"
        " WHERE a.key = ANY(%s) AND jsonb_typeof(a.value) = 'array' GROUP BY 1, 2",
        by_type.get("multiple_choice", []),
    ):
        counts.setdefault(r["question"], {})[r["value"]] = r["n"]

    likert_case = " ".join(
        f"WHEN '{value}' THEN {score}" for value, score in qn.LIKERT_SCORES.items()
    )
    means = {
        r["question"]: r["mean"]
        for r in run(
            "SELECT a.key AS question, avg(CASE WHEN a.key = ANY(%s)"
            f" THEN CASE a.value #>> '{{}}' {likert_case} END"
            " ELSE (a.value #>> '{}')::numeric END) AS mean"
            " FROM f, jsonb_each(f.answers) a WHERE a.key = ANY(%s) GROUP BY 1",
            by_type.get("likert", []),
            by_type.get("likert", []) + by_type.get("rating", []),
        )
    }

    ranking: dict[str, dict[str, tuple[Any, int]]] = {}
    for r in run(
        "SELECT a.key AS question, el.value #>> '{}' AS value,"
        " avg(el.position) AS mean_rank,"
        " count(*) FILTER (WHERE el.position = 1) AS first_choice"
        " FROM f, jsonb_each(f.answers) a,"
        " jsonb_array_elements(a.value) WITH ORDINALITY el(value, position)"
        " WHERE a.key = ANY(%s) AND jsonb_typeof(a.value) = 'array' GROUP BY 1, 2",
        by_type.get("ranking", []),
    ):
        ranking.setdefault(r["question"], {})[r["value"]] = (r["mean_rank"], r["first_choice"])

    return total, {
        "answered": answered,
        "counts": counts,
        "means": means,
        "ranking": ranking,
    }


# -- results kept as counts (migration 007: triggers on responses keep them) ----------------


def result_counts(
    conn: Connection, consultation_id: str, place: str | None = None
) -> list[dict[str, Any]]:
    """The consultation's counts (``question_id, value, n, rank_sum, firsts``), over every
    place and channel or for one ``place``: for ``domain.counted_aggregates``."""
    where = " AND place = %s" if place is not None else ""
    return conn.execute(
        "SELECT question_id, value, sum(n) AS n, sum(rank_sum) AS rank_sum,"
        " sum(firsts) AS firsts FROM result_counts WHERE consultation_id = %s"
        + where
        + " GROUP BY 1, 2 HAVING sum(n) > 0",
        (consultation_id, place) if place is not None else (consultation_id,),
    ).fetchall()


def counted_places(conn: Connection, consultation_id: str) -> dict[str | None, int]:
    """How many of the consultation's responses came from each place (``None``: none
    given), from ``result_counts``: ``breakdown(conn, cid, "place", {})`` without a scan."""
    rows = conn.execute(
        "SELECT place, sum(n) AS n FROM result_counts WHERE consultation_id = %s"
        " AND question_id = '' AND value = '' GROUP BY 1 HAVING sum(n) > 0",
        (consultation_id,),
    ).fetchall()
    return {r["place"] or None: r["n"] for r in rows}


def equality_result_counts(
    conn: Connection, consultation_id: str, field: str, group: str, place: str | None = None
) -> list[dict[str, Any]]:
    """``result_counts`` of the responses whose equality answer ``field`` is (or, for a
    multiple-choice field, includes) ``group``, in every place or one (migration 009)."""
    where = " AND place = %s" if place is not None else ""
    params: tuple[Any, ...] = (consultation_id, field, group)
    return conn.execute(
        "SELECT question_id, value, sum(n) AS n, sum(rank_sum) AS rank_sum,"
        " sum(firsts) AS firsts FROM equality_result_counts WHERE consultation_id = %s"
        " AND field = %s AND grp = %s" + where + " GROUP BY 1, 2 HAVING sum(n) > 0",
        (*params, place) if place is not None else params,
    ).fetchall()


def counted_breakdown(
    conn: Connection, consultation_id: str, field: str, filters: dict[str, str]
) -> dict[str | None, int]:
    """``breakdown`` from the kept counts, for at most one equality filter and a place:
    how many of the matching responses hold each value of ``field``."""
    equality = {k: v for k, v in filters.items() if k != "place"}
    clauses, params = ["consultation_id = %s", "question_id = ''", "value = ''"], [consultation_id]
    if field == "place":
        ((eq_field, eq_group),) = equality.items()
        clauses += ["field = %s", "grp = %s"]
        params += [eq_field, eq_group]
        column = "place"
    else:
        clauses.append("field = %s")
        params.append(field)
        if "place" in filters:
            clauses.append("place = %s")
            params.append(filters["place"])
        column = "grp"
    rows = conn.execute(
        f"SELECT {column} AS value, sum(n) AS n FROM equality_result_counts"
        f" WHERE {' AND '.join(clauses)} GROUP BY 1 HAVING sum(n) > 0",
        params,
    ).fetchall()
    return {(r["value"] or None) if field == "place" else r["value"]: r["n"] for r in rows}


def export_page(
    conn: Connection, consultation_id: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` responses with ``id > after``, oldest first, with equality answers
    and the redacted free text."""
    return conn.execute(
        "SELECT r.id, r.receipt_code, r.submitted_at, r.place, r.channel, r.answers,"
        f" r.redacted_answers, {_EQUALITY} FROM responses r"
        " LEFT JOIN equality_monitoring e ON e.response_id = r.id"
        " WHERE r.consultation_id = %s AND r.id > %s ORDER BY r.id LIMIT %s",
        (consultation_id, after, limit),
    ).fetchall()


def _export_cell(value: sql.Composable) -> sql.Composable:
    """``domain.export_cell`` in SQL: a list as its items joined by ``; `` (an empty
    list as ``''``, not null)."""
    return sql.SQL(
        "CASE jsonb_typeof({v}) WHEN 'array' THEN to_jsonb(coalesce((SELECT"
        " string_agg(x, '; ') FROM jsonb_array_elements_text({v}) x), '')) ELSE {v} END"
    ).format(v=value)


def export_rows(
    conn: Connection,
    consultation_id: str,
    questionnaire: dict[str, Any],
    after: int,
    limit: int,
) -> dict[str, Any]:
    """Up to ``limit`` responses after the id ``after``, oldest first, shaped by the
    database (``domain.export_table``'s cells: answers as staff are shown them, lists
    joined) into ONE JSON text, ``rows``: the array of each response's cells. With it
    ``last`` (the last id in ``rows``), ``more`` (whether a response follows it: a
    ``limit + 1``-th row is read, not shown) and ``pending`` (whether a response in
    ``rows`` has a free-text answer with no redacted text yet: the caller shapes those
    in Python, ``export_page``). Fetching 5,000 rows through the pure-Python driver,
    then decoding and encoding them again, was most of a page's time."""
    questions = questionnaire.get("questions", [])
    free = {q["id"] for q in questions if q.get("type") == "free_text"}
    cells: list[sql.Composable] = [
        sql.SQL("r.receipt_code"),
        sql.SQL(
            "to_char(r.submitted_at, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
            " date_part('microseconds', r.submitted_at)::bigint %% 1000000 <> 0"
            " THEN to_char(r.submitted_at, '.US') ELSE '' END"
            " || to_char(r.submitted_at, 'TZH:TZM')"
        ),
        sql.SQL("r.place"),
        sql.SQL("r.channel"),
    ]
    for q in questions:
        source = "r.redacted_answers" if q["id"] in free else "r.answers"
        cells.append(_export_cell(sql.SQL(source + " -> {}").format(sql.Literal(q["id"]))))
    cells.append(sql.SQL("r.equality ->> 'question_set'"))
    for field in ALL_EQUALITY_FIELDS:
        cells.append(
            _export_cell(sql.SQL("r.equality -> 'answers' -> {}").format(sql.Literal(field)))
        )
    pending = sql.SQL(" OR ").join(
        sql.SQL(
            "(jsonb_typeof(r.answers -> {q}) = 'string'"
            " AND NOT coalesce(r.redacted_answers ? {q}, false))"
        ).format(q=sql.Literal(qid))
        for qid in sorted(free)
    )
    # The page's responses first (the consultation's index, in id order), then each one's
    # equality answers by its key: joined, the planner merged the whole equality table's
    # index from its start on every page (a million-row export slowed page by page).
    # ``n`` numbers them, so the look-ahead row (``n > limit``) only says there are more.
    query = sql.SQL(
        "SELECT '[' || coalesce(string_agg(p.row, ',' ORDER BY p.id)"
        " FILTER (WHERE p.n <= %(limit)s), '') || ']' AS rows,"
        " max(p.id) FILTER (WHERE p.n <= %(limit)s) AS last,"
        " count(*) > %(limit)s AS more,"
        " coalesce(bool_or(p.pending) FILTER (WHERE p.n <= %(limit)s), false) AS pending"
        " FROM (SELECT r.id, row_number() OVER (ORDER BY r.id) AS n,"
        " jsonb_build_array({cells})::text AS row, {pending} AS pending"
        " FROM (SELECT r.*, (SELECT jsonb_build_object('question_set', e.question_set,"
        " 'answers', e.answers) FROM equality_monitoring e WHERE e.response_id = r.id)"
        " AS equality FROM responses r WHERE r.consultation_id = %(consultation)s"
        " AND r.id > %(after)s ORDER BY r.id LIMIT %(limit)s + 1) r) p"
    ).format(
        cells=sql.SQL(", ").join(cells),
        pending=pending if free else sql.SQL("false"),
    )
    conn.execute("SET LOCAL jit = off")  # compiling the page's query took 50 ms of 100
    found = conn.execute(
        query, {"consultation": consultation_id, "after": after, "limit": limit}
    ).fetchone()
    assert found is not None  # an aggregate without GROUP BY: always one row
    return found


# -- privacy (UK GDPR) ------------------------------------------------------------------------


def response_by_receipt(conn: Connection, receipt_code: str) -> dict[str, Any] | None:
    """A stored response with its equality answers, by receipt code."""
    return conn.execute(
        "SELECT r.id, r.receipt_code, r.consultation_id::text AS consultation_id,"
        " c.title AS consultation_title, r.answers, r.place, r.consent,"
        f" r.submitted_at, r.purged_at, {_EQUALITY}"
        " FROM responses r JOIN consultations c ON c.id = r.consultation_id"
        " LEFT JOIN equality_monitoring e ON e.response_id = r.id"
        " WHERE r.receipt_code = %s",
        (receipt_code,),
    ).fetchone()


def delete_responses(conn: Connection, response_ids: list[int]) -> list[dict[str, Any]]:
    """Delete responses (their equality rows go with them, ON DELETE CASCADE); returns
    ``{id, consultation_id, place}`` of each one deleted."""
    if not response_ids:
        return []
    return conn.execute(
        "DELETE FROM responses WHERE id = ANY(%s)"
        " RETURNING id, consultation_id::text AS consultation_id, place",
        (response_ids,),
    ).fetchall()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_personal_data(
    conn: Connection, receipt_code: str | None, text: str | None, limit: int
) -> list[dict[str, Any]]:
    """Responses whose receipt code is ``receipt_code``, or with a string answer or a
    postcode district containing ``text`` (case-insensitive). Each row carries the
    consultation's questionnaire so the caller can tell free text from choices."""
    clauses, params = [], []
    if receipt_code:
        clauses.append("r.receipt_code = %s")
        params.append(receipt_code)
    if text:
        clauses.append(
            "(EXISTS (SELECT 1 FROM jsonb_each(r.answers) a"
            " WHERE jsonb_typeof(a.value) = 'string'"
            " AND a.value #>> '{}' ILIKE %s) OR e.answers->>'postcode_district' ILIKE %s)"
        )
        params += [_like(text), _like(text)]
    return conn.execute(
        "SELECT r.id, r.receipt_code, r.consultation_id::text AS consultation_id,"
        " r.answers, r.submitted_at, e.answers->>'postcode_district' AS postcode_district,"
        " c.questionnaire"
        " FROM responses r JOIN consultations c ON c.id = r.consultation_id"
        " LEFT JOIN equality_monitoring e ON e.response_id = r.id"
        f" WHERE {' OR '.join(clauses)} ORDER BY r.id LIMIT %s",
        [*params, limit],
    ).fetchall()


def expired_responses(
    conn: Connection, closed_before: datetime, limit: int
) -> list[dict[str, Any]]:
    """Unpurged responses to consultations closed before ``closed_before``, locked."""
    return conn.execute(
        "SELECT r.id, r.answers, c.questionnaire FROM responses r"
        " JOIN consultations c ON c.id = r.consultation_id"
        " WHERE c.status = 'closed' AND c.closed_at < %s AND r.purged_at IS NULL"
        " ORDER BY r.id LIMIT %s FOR UPDATE OF r SKIP LOCKED",
        (closed_before, limit),
    ).fetchall()


def purge_response(
    conn: Connection, response_id: int, answers: dict[str, Any], now: datetime
) -> None:
    """Keep ``answers`` (already stripped of free text) and the place; drop consent, the
    postcode district, the redacted free text and the words themes were suggested for
    (confirmed themes and tones stay: they are counts, not words)."""
    conn.execute(
        "UPDATE responses SET answers = %s, consent = NULL, purged_at = %s,"
        " redacted_answers = '{}', redactions = '{}' WHERE id = %s",
        (Jsonb(answers), now, response_id),
    )
    conn.execute(
        "UPDATE answer_themes SET suggested_themes = '[]' WHERE response_id = %s",
        (response_id,),
    )
    conn.execute(
        "UPDATE equality_monitoring SET answers = answers - 'postcode_district'"
        " WHERE response_id = %s",
        (response_id,),
    )


# -- redaction of free text -----------------------------------------------------------------


def redaction_backlog(conn: Connection, version: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` responses not redacted by redactor ``version`` (never redacted, or
    by another version), oldest first, locked (``SKIP LOCKED``: two instances take
    different rows), each with its consultation's questionnaire."""
    return conn.execute(
        "SELECT r.id, r.consultation_id::text AS consultation_id, r.answers, c.questionnaire"
        " FROM responses r JOIN consultations c ON c.id = r.consultation_id"
        " WHERE r.redactor_version IS NULL OR r.redactor_version < %s"
        " OR r.redactor_version > %s"
        " ORDER BY r.id LIMIT %s FOR UPDATE OF r SKIP LOCKED",
        (version, version, limit),
    ).fetchall()


def save_redaction(conn: Connection, response_id: int, record: dict[str, Any]) -> None:
    """Store a response's redacted free text (``domain.redaction_records``)."""
    conn.execute(
        "UPDATE responses SET redacted_answers = %s, redactions = %s, redactor_version = %s"
        " WHERE id = %s",
        (
            Jsonb(record["redacted_answers"]),
            Jsonb(record["redactions"]),
            record["redactor_version"],
            response_id,
        ),
    )


def save_suggestions(
    conn: Connection,
    response_id: int,
    consultation_id: str,
    suggestions: dict[str, dict[str, Any]],
) -> None:
    """Store the themes and tone suggested for each free-text answer of a response
    (``domain.answer_suggestions``); what staff confirmed stays."""
    for question_id, suggested in suggestions.items():
        conn.execute(
            "INSERT INTO answer_themes (response_id, question_id, consultation_id,"
            " suggested_themes, suggested_tone) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (response_id, question_id) DO UPDATE SET"
            " suggested_themes = EXCLUDED.suggested_themes,"
            " suggested_tone = EXCLUDED.suggested_tone",
            (
                response_id,
                question_id,
                consultation_id,
                Jsonb(suggested["suggested_themes"]),
                suggested["suggested_tone"],
            ),
        )


def insert_suggestions(conn: Connection, rows: list[tuple[int, str, str, dict[str, Any]]]) -> None:
    """The suggestions of newly stored responses' free-text answers, in one statement:
    ``(response_id, consultation_id, question_id, suggested)`` each."""
    if not rows:
        return
    conn.execute(
        "INSERT INTO answer_themes (response_id, question_id, consultation_id,"
        f" suggested_themes, suggested_tone) VALUES {_rows(5, len(rows))}"
        " ON CONFLICT (response_id, question_id) DO UPDATE SET"
        " suggested_themes = EXCLUDED.suggested_themes,"
        " suggested_tone = EXCLUDED.suggested_tone",
        [
            value
            for rid, cid, qid, suggested in rows
            for value in (
                rid,
                qid,
                cid,
                Jsonb(suggested["suggested_themes"]),
                suggested["suggested_tone"],
            )
        ],
    )


# -- themes ---------------------------------------------------------------------------------


def seed_themes(conn: Connection, themes: list[dict[str, Any]]) -> list[str]:
    """Add the seeded themes surveys does not have yet; slugs of those added."""
    added = []
    for theme in themes:
        row = conn.execute(
            "INSERT INTO themes (slug, label, keywords, priority, active)"
            " VALUES (%s, %s, %s::text[], %s, %s) ON CONFLICT (slug) DO NOTHING RETURNING slug",
            (theme["slug"], theme["label"], theme["keywords"], theme["priority"], theme["active"]),
        ).fetchone()
        if row is not None:
            added.append(row["slug"])
    return added


def apply_theme(conn: Connection, theme: dict[str, Any]) -> None:
    """A theme as a feedback event says it is (``domain.theme_from_event``), unless a newer
    event was applied already; keywords only when the event carries them."""
    conn.execute(
        "INSERT INTO themes (slug, label, keywords, priority, active, event_at)"
        " VALUES (%(slug)s, %(label)s,"
        " coalesce(%(keywords)s::text[], %(seed_keywords)s::text[]),"
        " %(priority)s, %(active)s, %(event_at)s)"
        " ON CONFLICT (slug) DO UPDATE SET label = EXCLUDED.label,"
        " keywords = coalesce(%(keywords)s::text[], themes.keywords), priority = EXCLUDED.priority,"
        " active = EXCLUDED.active, event_at = EXCLUDED.event_at"
        " WHERE themes.event_at IS NULL OR EXCLUDED.event_at IS NULL"
        " OR themes.event_at <= EXCLUDED.event_at",
        theme,
    )


def list_themes(conn: Connection, active_only: bool = True) -> list[dict[str, Any]]:
    """The themes surveys knows (``slug, label, keywords, priority, active``)."""
    where = " WHERE active" if active_only else ""
    return conn.execute(
        "SELECT slug, label, keywords, priority, active FROM themes" + where + " ORDER BY slug"
    ).fetchall()


# -- free-text answers and their themes ----------------------------------------------------

_ANSWERS = """
SELECT r.id AS response_id, %(question_id)s::text AS question_id,
       r.redacted_answers ->> %(question_id)s::text AS text,
       CASE WHEN r.redacted_answers ? %(question_id)s::text THEN NULL
            ELSE r.answers ->> %(question_id)s::text END AS original,
       t.suggested_themes, t.suggested_tone, t.themes, t.tone, t.confirmed_at
FROM responses r
LEFT JOIN answer_themes t ON t.response_id = r.id AND t.question_id = %(question_id)s::text
"""


def free_text_page(
    conn: Connection, consultation_id: str, question_id: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` answers to a free-text question from responses with ``id > after``,
    oldest first: the redacted text (the original only while it is not redacted yet, to
    be redacted before it is shown), suggested and confirmed themes and tone."""
    return conn.execute(
        _ANSWERS + " WHERE r.consultation_id = %(cid)s AND r.id > %(after)s"
        " AND jsonb_typeof(r.answers -> %(question_id)s::text) = 'string'"
        " ORDER BY r.id LIMIT %(limit)s",
        {"question_id": question_id, "cid": consultation_id, "after": after, "limit": limit},
    ).fetchall()


def free_text_answer(conn: Connection, response_id: int, question_id: str) -> dict[str, Any] | None:
    """One free-text answer as ``free_text_page`` gives it."""
    return conn.execute(
        _ANSWERS + " WHERE r.id = %(rid)s AND jsonb_typeof(r.answers -> %(question_id)s::text) ="
        " 'string'",
        {"question_id": question_id, "rid": response_id},
    ).fetchone()


def answer_to_theme(conn: Connection, response_id: int, question_id: str) -> dict[str, Any] | None:
    """The response an answer belongs to (locked, so two staff confirming its themes take
    turns), its consultation's questionnaire, and what was confirmed so far."""
    return conn.execute(
        "SELECT r.id AS response_id, %(question_id)s::text AS question_id, r.consultation_id,"
        " r.place, r.channel,"
        " r.answers ? %(question_id)s::text AS answered, c.questionnaire, t.themes, t.tone,"
        " t.confirmed_at"
        " FROM responses r JOIN consultations c ON c.id = r.consultation_id"
        " LEFT JOIN answer_themes t"
        " ON t.response_id = r.id AND t.question_id = %(question_id)s::text"
        " WHERE r.id = %(rid)s FOR NO KEY UPDATE OF r",
        {"question_id": question_id, "rid": response_id},
    ).fetchone()


def confirm_themes(
    conn: Connection,
    answer: dict[str, Any],
    themes: list[str],
    tone: str | None,
    actor: dict[str, Any],
    now: datetime,
) -> None:
    """Record the themes and tone staff confirmed for one answer (replacing earlier ones);
    its suggestions stay."""
    conn.execute(
        "INSERT INTO answer_themes (response_id, question_id, consultation_id, themes, tone,"
        " confirmed_at, confirmed_by) VALUES (%s, %s, %s, %s::text[], %s, %s, %s)"
        " ON CONFLICT (response_id, question_id) DO UPDATE SET themes = EXCLUDED.themes,"
        " tone = EXCLUDED.tone, confirmed_at = EXCLUDED.confirmed_at,"
        " confirmed_by = EXCLUDED.confirmed_by",
        (
            answer["response_id"],
            answer["question_id"],
            answer["consultation_id"],
            themes,
            tone,
            now,
            Jsonb(actor),
        ),
    )


_IMAGE = "sha256, content_type, octet_length(data) AS bytes, width, height, alt"


def save_image(conn: Connection, consultation_id: str, image: dict[str, Any]) -> dict[str, Any]:
    """Keep an easy-read picture (``domain.read_image`` and its bytes); the same picture
    again keeps one copy, with the alt text sent last."""
    row = conn.execute(
        "INSERT INTO easy_read_images (consultation_id, sha256, content_type, data, width,"
        " height, alt) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (consultation_id, sha256) DO UPDATE SET alt = EXCLUDED.alt"
        f" RETURNING {_IMAGE}",
        (
            consultation_id,
            image["sha256"],
            image["content_type"],
            image["data"],
            image["width"],
            image["height"],
            Jsonb(image["alt"]),
        ),
    ).fetchone()
    assert row is not None
    return row


def easy_read_images(
    conn: Connection, consultation_id: str, shas: set[str]
) -> dict[str, dict[str, Any]]:
    """The consultation's pictures among ``shas`` (without their bytes), by sha256."""
    if not shas:
        return {}
    rows = conn.execute(
        f"SELECT {_IMAGE} FROM easy_read_images WHERE consultation_id = %s AND sha256 = ANY(%s)",
        (consultation_id, sorted(shas)),
    ).fetchall()
    return {r["sha256"]: r for r in rows}


def get_image(conn: Connection, consultation_id: str, sha256: str) -> dict[str, Any] | None:
    """One of the consultation's pictures, with its bytes."""
    return conn.execute(
        f"SELECT {_IMAGE}, data FROM easy_read_images WHERE consultation_id = %s AND sha256 = %s",
        (consultation_id, sha256),
    ).fetchone()
