"""Reach against population, as the API, the pages and the CLI share it.

- ``locate_equality`` / ``locate_feedback``: where a resident gave a full postcode, the
  gateway keeps only its district and the IMD decile of the postcode (from the lookup the
  ICS loaded) before anything is queued or sent to a service; a district alone gives no
  decile, an unknown postcode keeps its district with the decile unknown, and a decile a
  client sent is never believed.
- ``load_population`` / ``load_deprivation``: the ICS's files, checked by line
  (``engage_contracts.population``); a file with any bad line loads nothing.
- ``consultation`` / ``place``: the read model's figures (``gateway.readmodels.reach``).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from engage_common.db import Pool
from engage_common.errors import NotFound, ValidationFailed
from engage_contracts import population
from engage_contracts.ics import ics
from engage_contracts.reference import IMD_DECILE
from gateway.readmodels import reach as readmodel

log = logging.getLogger(__name__)
EQUALITY_POSTCODE = "postcode_district"


def postcode_key(postcode: str) -> str:
    """How the lookup is keyed: the SHA-256 of the normalised full postcode."""
    return hashlib.sha256(population.normalise_postcode(postcode).encode()).hexdigest()


def decile_for(db: Pool, postcode: str) -> int | None:
    """The IMD decile of a full postcode; None when it is not in the lookup, or the
    gateway database does not answer (the resident's answer still goes, decile unknown)."""
    try:
        with db.connection() as conn:
            row = conn.execute(
                "SELECT imd_decile FROM postcode_deciles WHERE postcode_sha256 = %s",
                (postcode_key(postcode),),
            ).fetchone()
    except Exception:  # noqa: BLE001 - a lookup must never lose a resident's answer
        log.warning("the postcode lookup did not answer; decile unknown", exc_info=True)
        return None
    return int(row["imd_decile"]) if row else None


def locate_equality(db: Pool, equality: Any) -> Any:
    """Equality answers with a full postcode turned into its district and decile (and
    any decile a client sent dropped). Anything not a dict is left for the rules to
    refuse."""
    if not isinstance(equality, dict):
        return equality
    out = {k: v for k, v in equality.items() if k != IMD_DECILE}
    value = out.get(EQUALITY_POSTCODE)
    split = population.split_postcode(value) if isinstance(value, str) else None
    if split is not None:
        out[EQUALITY_POSTCODE] = split[0]
        decile = decile_for(db, split[1])
        if decile is not None:
            out[IMD_DECILE] = decile
    return out


def locate_submission(db: Pool, submission: dict[str, Any]) -> dict[str, Any]:
    """A loaded response (or registration, or walk-in) with its equality answers located."""
    if submission.get("equality") is None:
        return submission
    return {**submission, "equality": locate_equality(db, submission["equality"])}


def locate_feedback(db: Pool, feedback: dict[str, Any]) -> dict[str, Any]:
    """Feedback with any full postcode made a district: the equality one (the resident's
    home) also gives the decile; the one saying where it happened gives only its district
    (a decile of where care was given says nothing about who gave the feedback)."""
    out = locate_submission(db, feedback)
    value = out.get(EQUALITY_POSTCODE)
    split = population.split_postcode(value) if isinstance(value, str) else None
    if split is not None:
        out = {**out, EQUALITY_POSTCODE: split[0]}
    return out


# -- the ICS's files ----------------------------------------------------------------------------


def _refuse(loaded: population.Loaded) -> None:
    if loaded.problems:
        raise ValidationFailed({"file": loaded.problems})


def load_population(db: Pool, text: str) -> dict[str, Any]:
    """Replace the population profiles with a file's (every line good, or nothing)."""
    loaded = population.read_population(text, ics().place_names())
    _refuse(loaded)
    with db.connection() as conn:
        conn.execute("DELETE FROM population_profiles")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO population_profiles (place, dimension, grp, population)"
                " VALUES (%s, %s, %s, %s)",
                [(r["place"], r["dimension"], r["group"], r["population"]) for r in loaded.rows],
            )
        _remember(conn, "population", loaded)
    return {"rows": len(loaded.rows), "source": loaded.source}


def load_deprivation(db: Pool, text: str) -> dict[str, Any]:
    """Replace the postcode -> LSOA -> IMD decile lookup with a file's."""
    loaded = population.read_deprivation(text)
    _refuse(loaded)
    edition = loaded.source or ""
    source = f"{edition} ({population.IMD_EDITIONS[edition]})"
    with db.connection() as conn:
        conn.execute("DELETE FROM postcode_deciles")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO postcode_deciles (postcode_sha256, lsoa, imd_decile)"
                " VALUES (%s, %s, %s)",
                [(postcode_key(r["postcode"]), r["lsoa"], r["imd_decile"]) for r in loaded.rows],
            )
        _remember(conn, "deprivation", population.Loaded(loaded.rows, [], source))
    return {"rows": len(loaded.rows), "source": source}


def _remember(conn: Any, kind: str, loaded: population.Loaded) -> None:
    conn.execute(
        "INSERT INTO reference_files (kind, source, rows) VALUES (%s, %s, %s)"
        " ON CONFLICT (kind) DO UPDATE SET source = EXCLUDED.source, rows = EXCLUDED.rows,"
        " loaded_at = now()",
        (kind, loaded.source or "", len(loaded.rows)),
    )


# -- the figures --------------------------------------------------------------------------------


def consultation(db: Pool, consultation_id: str) -> dict[str, Any]:
    """A consultation's reach; NotFound when the read model has never heard of it (a
    draft has had no contributions)."""
    with db.connection() as conn:
        known = conn.execute(
            "SELECT 1 FROM consultation_summaries WHERE id = %s", (consultation_id,)
        ).fetchone()
        if known is None:
            raise NotFound(f"There is no consultation {consultation_id} open or closed")
        return readmodel.consultation_reach(conn, consultation_id)


def place(
    db: Pool, place: str | None, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    with db.connection() as conn:
        return readmodel.place_reach(conn, place, since, until)
