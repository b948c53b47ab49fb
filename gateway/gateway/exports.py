"""Files staff download: CSV streamed line by line, every cell safe to open in a
spreadsheet (residents' text must never run as a formula)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = "; ".join(cell(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_line(values: list[Any]) -> str:
    """One CSV line, every cell made safe for spreadsheets (see ``cell``)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([cell(v) for v in values])
    return buffer.getvalue()


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The header, then each row, one line at a time (nothing held in memory)."""
    yield csv_line(header)
    for row in rows:
        yield csv_line(row)
