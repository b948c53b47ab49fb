"""Reach against population: who took part, set beside who lives in a place. Pure: no I/O.

- **Groups.** Equality answers (any version of ``reference.EQUALITY_SETS``) are turned into
  the coarse groups ONS Census 2021 publishes for a place (``coarse_groups``): age band,
  sex, ethnic group (the five high-level groups), disability (Equality Act: limited a lot,
  a little, not limited) and unpaid care (none, up to 19, 20 to 49, 50 or more hours a
  week), plus the Index of Multiple Deprivation decile of the resident's full postcode.
  Only these group codes travel in events and are kept in the gateway's read model.
- **Postcodes.** A full postcode (``split_postcode``) is turned into its district and a
  decile by the gateway before anything is queued; only the district and the decile are
  stored. A district alone gives no decile.
- **Figures.** A group's share of the contributions that said which group they are in,
  its share of the population, their ratio (1.0: heard in proportion), representativeness
  (the lowest participation rate divided by the highest) and the groups furthest below
  their share, each with a sentence in plain words.
- **Files.** The ICS loads population profiles (``POPULATION_COLUMNS``) and a postcode to
  LSOA to IMD decile lookup (``DEPRIVATION_COLUMNS``); ``read_population`` and
  ``read_deprivation`` check every line and return every problem by line, so a file with
  a bad line loads nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Small ILLUSTRATIVE files for the shipped ICS configurations' places (made-up numbers,
# not ONS figures): ``<ics>-population.csv`` and ``<ics>-deprivation.csv``.
SHIPPED = Path(__file__).parent / "population_data"
IMD_DIMENSION = "imd_decile"
NOT_GIVEN = "not-given"
DECILES = tuple(range(1, 11))
# IMD editions and the LSOA boundaries each is published on.
IMD_EDITIONS = {"IMD 2025": "LSOA 2021", "IMD 2019": "LSOA 2011"}
FULL_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?) ?([0-9][ABD-HJLNP-UW-Z]{2})$")
LSOA = re.compile(r"^[EW]01[0-9]{6}$")
POPULATION_COLUMNS = ("source", "place", "dimension", "group", "population")
DEPRIVATION_COLUMNS = ("postcode", "lsoa", "imd_decile", "edition")
MAX_ROWS = 3_000_000


@dataclass(frozen=True)
class Dimension:
    code: str
    label: str
    groups: tuple[tuple[str, str], ...]  # (code, words), in the order shown
    # What a resident is asked about it, when ``groups`` are read from an answer.
    question: str | None = None
    # How a phrase about a group reads: "People aged 16 to 24".
    people: tuple[tuple[str, str], ...] = ()

    def group_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.groups)

    def label_of(self, group: str) -> str:
        return dict(self.groups).get(group, group)

    def people_in(self, group: str) -> str:
        return dict(self.people).get(group) or f"People in the group '{self.label_of(group)}'"


# fmt: off
AGE_GROUPS = (
    ("under-16", "Under 16"), ("16-24", "16 to 24"), ("25-34", "25 to 34"),
    ("35-44", "35 to 44"), ("45-54", "45 to 54"), ("55-64", "55 to 64"),
    ("65-74", "65 to 74"), ("75-84", "75 to 84"), ("85-plus", "85 or over"),
)
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("age_band", "Age", AGE_GROUPS, "age_band",
              tuple((code, f"People aged {words.lower()}") for code, words in AGE_GROUPS)),
    Dimension("sex", "Sex", (("female", "Female"), ("male", "Male")), "sex",
              (("female", "Women"), ("male", "Men"))),
    Dimension("ethnicity", "Ethnic group", (
        ("asian", "Asian, Asian British or Asian Welsh"),
        ("black", "Black, Black British, Black Welsh, Caribbean or African"),
        ("mixed", "Mixed or Multiple ethnic groups"),
        ("white", "White"),
        ("other", "Other ethnic group"),
    ), "ethnicity", (
        ("asian", "Asian people"), ("black", "Black people"),
        ("mixed", "People of mixed or multiple ethnic groups"), ("white", "White people"),
        ("other", "People of other ethnic groups"),
    )),
    Dimension("disability", "Disability", (
        ("limited-a-lot", "Day-to-day activities limited a lot"),
        ("limited-a-little", "Day-to-day activities limited a little"),
        ("not-limited", "Not limited"),
    ), "disability", (
        ("limited-a-lot", "Disabled people whose activities are limited a lot"),
        ("limited-a-little", "Disabled people whose activities are limited a little"),
        ("not-limited", "People not limited by a health problem or disability"),
    )),
    Dimension("unpaid_care", "Unpaid care", (
        ("no", "Provides no unpaid care"),
        ("up-to-19", "Up to 19 hours a week"),
        ("20-49", "20 to 49 hours a week"),
        ("50-plus", "50 or more hours a week"),
    ), "unpaid_carer", (
        ("no", "People who give no unpaid care"),
        ("up-to-19", "Unpaid carers giving up to 19 hours a week"),
        ("20-49", "Unpaid carers giving 20 to 49 hours a week"),
        ("50-plus", "Unpaid carers giving 50 or more hours a week"),
    )),
    Dimension(IMD_DIMENSION, "Deprivation (IMD decile of home postcode)", (
        ("1-2", "Deciles 1–2 (most deprived)"), ("3-4", "Deciles 3–4"),
        ("5-6", "Deciles 5–6"), ("7-8", "Deciles 7–8"),
        ("9-10", "Deciles 9–10 (least deprived)"),
    ), None, (
        ("1-2", "People in the most deprived areas (deciles 1–2)"),
        ("3-4", "People in deciles 3–4"), ("5-6", "People in deciles 5–6"),
        ("7-8", "People in deciles 7–8"),
        ("9-10", "People in the least deprived areas (deciles 9–10)"),
    )),
)
# An answer (any version of the equality questions) -> its Census group.
_ANSWER_GROUPS: dict[str, dict[str, str]] = {
    "disability": {"yes-a-lot": "limited-a-lot", "yes-a-little": "limited-a-little",
                   "yes-not-at-all": "not-limited", "no": "not-limited"},
    "unpaid_carer": {"no": "no", "yes-up-to-9": "up-to-19", "yes-10-19": "up-to-19",
                     "yes-up-to-19": "up-to-19", "yes-20-34": "20-49", "yes-35-49": "20-49",
                     "yes-20-49": "20-49", "yes-50-plus": "50-plus"},
}
# fmt: on
BY_CODE = {d.code: d for d in DIMENSIONS}
# Population files give the IMD dimension by decile ("1".."10"): shown in pairs.
POPULATION_GROUPS = {
    **{d.code: set(d.group_codes()) for d in DIMENSIONS if d.code != IMD_DIMENSION},
    IMD_DIMENSION: {str(n) for n in DECILES},
}


# -- postcodes --------------------------------------------------------------------------------


def normalise_postcode(value: str) -> str:
    """Upper case, one space before the inward code when there is one: ``ls61an`` ->
    ``LS6 1AN``; anything else only upper-cased with spaces collapsed."""
    text = re.sub(r"\s+", "", value or "").upper()
    if len(text) >= 5 and FULL_POSTCODE.match(text):
        return f"{text[:-3]} {text[-3:]}"
    return text


def is_full_postcode(value: Any) -> bool:
    return isinstance(value, str) and FULL_POSTCODE.match(normalise_postcode(value)) is not None


def split_postcode(value: str) -> tuple[str, str] | None:
    """``(district, normalised full postcode)`` for a full UK postcode, else None (a
    district alone, or not a postcode)."""
    found = FULL_POSTCODE.match(normalise_postcode(value))
    if found is None:
        return None
    return found.group(1), f"{found.group(1)} {found.group(2)}"


def decile_group(decile: int | None) -> str | None:
    """Decile 1..10 -> the pair it is shown in (``"1-2"``)."""
    if decile is None or decile not in DECILES:
        return None
    low = decile - (decile + 1) % 2
    return f"{low}-{low + 1}"


# -- from equality answers to groups ----------------------------------------------------------


def coarse_groups(equality: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Census groups (and decile) a response's equality answers put it in, by
    dimension; a question not answered, or answered "prefer not to say", is left out.
    ``{"age_band": "16-24", "ethnicity": "asian", "imd_decile": 2, ...}``."""
    answers = equality or {}
    out: dict[str, Any] = {}
    age = answers.get("age_band")
    if age in dict(AGE_GROUPS):
        out["age_band"] = age
    if answers.get("sex") in ("female", "male"):
        out["sex"] = answers["sex"]
    ethnicity = answers.get("ethnicity")
    if isinstance(ethnicity, str) and "-" in ethnicity:
        group = ethnicity.split("-", 1)[0]
        if group in BY_CODE["ethnicity"].group_codes():
            out["ethnicity"] = group
    disability = _ANSWER_GROUPS["disability"].get(str(answers.get("disability")))
    if disability:
        out["disability"] = disability
    care = _ANSWER_GROUPS["unpaid_carer"].get(str(answers.get("unpaid_carer")))
    if care:
        out["unpaid_care"] = care
    decile = answers.get(IMD_DIMENSION)
    if isinstance(decile, int) and not isinstance(decile, bool) and decile in DECILES:
        out[IMD_DIMENSION] = decile
    return out


def group_of(dimension: str, groups: Mapping[str, Any]) -> str:
    """The group a contribution's coarse groups put it in for ``dimension``
    (``NOT_GIVEN`` when it did not say)."""
    value = groups.get(dimension)
    if dimension == IMD_DIMENSION:
        return decile_group(value) or NOT_GIVEN
    return value if value in BY_CODE[dimension].group_codes() else NOT_GIVEN


# -- figures ----------------------------------------------------------------------------------


def shares(counts: Mapping[str, int]) -> dict[str, float | None]:
    """Each group's share of the total (None for all when the total is 0)."""
    total = sum(counts.values())
    return {k: (v / total if total else None) for k, v in counts.items()}


def population_counts(dimension: str, rows: Mapping[str, int]) -> dict[str, int]:
    """A place's population by the dimension's groups (deciles added up in pairs)."""
    if dimension != IMD_DIMENSION:
        return {g: int(rows.get(g, 0)) for g in BY_CODE[dimension].group_codes()}
    out = dict.fromkeys(BY_CODE[IMD_DIMENSION].group_codes(), 0)
    for decile, count in rows.items():
        pair = decile_group(int(decile)) if str(decile).isdigit() else None
        if pair:
            out[pair] += int(count)
    return out


def ratio(share: float | None, population_share: float | None) -> float | None:
    """Share of contributions ÷ share of the population: 1.0 heard in proportion, 0.33 at
    a third of its share. None when either is unknown or the group has no population."""
    if share is None or not population_share:
        return None
    return share / population_share


def representativeness(counts: Mapping[str, int], population: Mapping[str, int]) -> float | None:
    """The lowest group's participation rate (contributions per resident) divided by the
    highest, over groups with people in the population: 1.0 when every group took part
    at the same rate, 0 when a group was not heard at all. None without contributions or
    with fewer than two groups to compare."""
    rates = [counts.get(g, 0) / p for g, p in population.items() if p > 0]
    if len(rates) < 2 or max(rates) == 0:
        return None
    return min(rates) / max(rates)


def fraction_words(value: float) -> str:
    """A ratio as people say it: "a third of", "half", "twice"."""
    words = [
        (0.05, "almost none of"),
        (0.2, "a fifth of"),
        (0.25, "a quarter of"),
        (0.33, "a third of"),
        (0.5, "half of"),
        (0.67, "two thirds of"),
        (0.75, "three quarters of"),
    ]
    if value <= 0:
        return "none of"
    best = min(words, key=lambda w: abs(w[0] - value))
    if abs(best[0] - value) <= 0.04:
        return best[1]
    return f"{round(value * 100)}% of"


def furthest_below(
    groups: Iterable[Mapping[str, Any]], limit: int = 3, below: float = 0.8
) -> list[dict[str, Any]]:
    """The groups heard least in proportion to the population (``ratio`` under
    ``below``), lowest first, at most ``limit``, each with a sentence:
    ``[{dimension, group, label, ratio, sentence}]``. ``groups`` are
    ``{dimension, group, ratio}``; groups without a ratio are not judged."""
    judged = [g for g in groups if g.get("ratio") is not None and g["ratio"] < below]
    judged.sort(key=lambda g: (g["ratio"], g["dimension"], g["group"]))
    out = []
    for g in judged[:limit]:
        dimension = BY_CODE[g["dimension"]]
        people = dimension.people_in(g["group"])
        out.append(
            {
                "dimension": g["dimension"],
                "group": g["group"],
                "label": dimension.label_of(g["group"]),
                "ratio": round(g["ratio"], 2),
                "sentence": f"{people} are at {fraction_words(g['ratio'])} their share.",
            }
        )
    return out


# -- the files an ICS loads --------------------------------------------------------------------


@dataclass
class Loaded:
    rows: list[dict[str, Any]]
    problems: list[str]
    source: str | None


def _records(
    text: str, columns: tuple[str, ...]
) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """``[(line number, row)]`` of a CSV whose comment lines (``#``) and blank lines are
    skipped; line numbers are the file's own. Problems with the header, if any."""
    lines = [
        (n, line)
        for n, line in enumerate(io.StringIO(text), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return [], ["the file is empty"]
    parsed = csv.reader([line for _, line in lines])
    header = [c.strip() for c in next(parsed)]
    missing = [c for c in columns if c not in header]
    if missing:
        return [], [
            f"line {lines[0][0]}: the header must name {', '.join(columns)};"
            f" missing {', '.join(missing)}"
        ]
    out = []
    for (n, _), values in zip(lines[1:], parsed, strict=False):
        row = {
            name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header)
        }
        out.append((n, row))
    return out, []


def read_population(text: str, places: Iterable[str]) -> Loaded:
    """Population profiles from CSV (``POPULATION_COLUMNS``): one row per place,
    dimension and group, the population a whole number. Groups are ``DIMENSIONS``' codes;
    ``imd_decile`` is given by decile, 1 to 10. Every row names the same ``source`` (the
    Census tables and year, or that the figures are illustrative). Lines starting with
    ``#`` are comments. Returns the rows, or the problems by line (then no rows)."""
    records, problems = _records(text, POPULATION_COLUMNS)
    if problems:
        return Loaded([], problems, None)
    known = set(places)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    source: str | None = None
    for line, row in records:
        if len(rows) >= MAX_ROWS:
            problems.append(f"line {line}: more than {MAX_ROWS} rows")
            break
        why = []
        if not row["source"]:
            why.append("source is empty: name the Census tables (or say it is illustrative)")
        elif source is None:
            source = row["source"]
        elif row["source"] != source:
            why.append(f"source differs from the first row's ('{source}'): one source a file")
        if row["place"] not in known:
            why.append(f"place '{row['place']}' is not one of the ICS's places")
        groups = POPULATION_GROUPS.get(row["dimension"])
        if groups is None:
            why.append(
                f"dimension '{row['dimension']}' is not one of " + ", ".join(POPULATION_GROUPS)
            )
        elif row["group"] not in groups:
            why.append(
                f"group '{row['group']}' is not one of {row['dimension']}'s: "
                + ", ".join(sorted(groups))
            )
        if not row["population"].isdigit():
            why.append(f"population '{row['population']}' is not a whole number")
        key = (row["place"], row["dimension"], row["group"])
        if key in seen:
            why.append("this place, dimension and group are given twice")
        seen.add(key)
        if why:
            problems.append(f"line {line}: " + "; ".join(why))
            continue
        rows.append({**row, "population": int(row["population"])})
    if not rows and not problems:
        problems.append("the file has no rows")
    return Loaded([] if problems else rows, problems, source)


def read_deprivation(text: str) -> Loaded:
    """A postcode -> LSOA -> IMD decile lookup from CSV (``DEPRIVATION_COLUMNS``): full
    postcodes, the LSOA code, the decile (1 most deprived .. 10) and the edition, one of
    ``IMD_EDITIONS`` and the same on every row (IMD 2025 is published on 2021 LSOAs,
    IMD 2019 on 2011 LSOAs). Returns the rows (postcodes normalised), or the problems."""
    records, problems = _records(text, DEPRIVATION_COLUMNS)
    if problems:
        return Loaded([], problems, None)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    edition: str | None = None
    for line, row in records:
        if len(rows) >= MAX_ROWS:
            problems.append(f"line {line}: more than {MAX_ROWS} rows")
            break
        why = []
        postcode = split_postcode(row["postcode"])
        if postcode is None:
            why.append(f"postcode '{row['postcode']}' is not a full UK postcode")
        elif postcode[1] in seen:
            why.append(f"postcode {postcode[1]} is given twice")
        else:
            seen.add(postcode[1])
        if not LSOA.match(row["lsoa"]):
            why.append(f"lsoa '{row['lsoa']}' is not an LSOA code, like E01011229")
        if not row["imd_decile"].isdigit() or int(row["imd_decile"]) not in DECILES:
            why.append(f"imd_decile '{row['imd_decile']}' is not a whole number from 1 to 10")
        if row["edition"] not in IMD_EDITIONS:
            why.append(f"edition '{row['edition']}' is not one of " + ", ".join(IMD_EDITIONS))
        elif edition is None:
            edition = row["edition"]
        elif row["edition"] != edition:
            why.append(f"edition differs from the first row's ('{edition}'): one edition a file")
        if why:
            problems.append(f"line {line}: " + "; ".join(why))
            continue
        assert postcode is not None
        rows.append(
            {"postcode": postcode[1], "lsoa": row["lsoa"], "imd_decile": int(row["imd_decile"])}
        )
    if not rows and not problems:
        problems.append("the file has no rows")
    return Loaded([] if problems else rows, problems, edition)


__all__ = [
    "DIMENSIONS",
    "IMD_DIMENSION",
    "IMD_EDITIONS",
    "coarse_groups",
    "furthest_below",
    "read_deprivation",
    "read_population",
    "representativeness",
    "split_postcode",
]
