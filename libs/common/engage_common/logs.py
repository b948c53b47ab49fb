"""Logs an operator can read: an expected outcome is one line, a failure one traceback.

A service answers "there is no such consultation" by raising ``NotFound`` (or
``Conflict``, ``ValidationFailed``); the caller turns it into a 404/409/422. That is
normal traffic, but nameko 2.14 logs every exception an entrypoint raises with its
traceback (``ServiceContainer._run_worker``): at ERROR, or at WARNING when the
entrypoint lists it in ``expected_exceptions``. ``ExpectedOutcomeFilter``, attached to a
handler in a service's LOGGING config, turns such a record into one INFO line::

    INFO nameko.containers: surveys.get_consultation: NotFound: There is no consultation ...

Services declare the outcomes with ``@rpc(expected_exceptions=EXPECTED)``.

Every process logs through ``formatter(service, log_format)`` (the services' and the
projections' config.yaml, the gateway's ``gateway.observability``): with
``LOG_FORMAT=json`` one JSON object a line (``time``, ``level``, ``logger``,
``message``, ``service``, ``correlation_id`` when the line is about a request, and any
``extra`` fields), what a log collector indexes; with ``text`` the same as a readable
line. ``auto`` (the default) is text on a terminal and JSON otherwise, so ``./engage up``
stays readable while a container, a pipe or a file gets JSON; the deployments set
``json``.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from nameko.containers import WorkerContext
from pythonjsonlogger.json import JsonFormatter

from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_common.observability import CONTEXT_KEY, current_correlation_id

EXPECTED: tuple[type[Exception], ...] = (NotFound, Conflict, ValidationFailed)


class ExpectedOutcomeFilter(logging.Filter):
    """Rewrite a record carrying an expected exception (one of ``EXPECTED``, or one the
    entrypoint that raised it declared expected) as a single INFO line without the
    traceback; let every other record through untouched.

    The record is changed in place, so handlers after this one see the one line too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = _expected_exception(record)
        if exc is not None:
            ctx = _worker_context(record)
            where = (
                f"{ctx.service_name}.{ctx.entrypoint.method_name}" if ctx else (record.getMessage())
            )
            record.msg, record.args = "%s: %s: %s", (where, type(exc).__name__, exc)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


def _worker_context(record: logging.LogRecord) -> WorkerContext | None:
    """The worker a nameko container record is about (its first argument)."""
    args = record.args
    if isinstance(args, tuple) and args and isinstance(args[0], WorkerContext):
        return args[0]
    return None


def _expected_exception(record: logging.LogRecord) -> BaseException | None:
    exc = record.exc_info[1] if record.exc_info else None
    if exc is None:
        return None
    if isinstance(exc, EXPECTED):
        return exc
    ctx = _worker_context(record)
    if ctx is not None and isinstance(exc, ctx.entrypoint.expected_exceptions):
        return exc
    return None


LOG_FORMATS = ("auto", "json", "text")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _correlation_id(record: logging.LogRecord) -> str | None:
    """The record's own ``correlation_id`` (``extra``), the worker's it is about, or the
    current thread's."""
    value = getattr(record, CONTEXT_KEY, None)
    if value:
        return value
    ctx = _worker_context(record)
    if ctx is not None and ctx.data.get(CONTEXT_KEY):
        return ctx.data[CONTEXT_KEY]
    return current_correlation_id()


class EngageJsonFormatter(JsonFormatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, service,
    correlation_id (when there is one), then the record's ``extra`` fields."""

    def __init__(self, service: str) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            json_default=str,
            json_ensure_ascii=False,
        )
        self.service = service

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)
        log_data["service"] = self.service
        value = _correlation_id(record)
        if value:
            log_data[CONTEXT_KEY] = value
        else:
            log_data.pop(CONTEXT_KEY, None)


class EngageTextFormatter(logging.Formatter):
    """``time level logger message``, and ``[correlation id]`` when there is one."""

    def __init__(self, service: str) -> None:
        super().__init__(TEXT)
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        value = _correlation_id(record)
        if not value:
            return line
        first, sep, rest = line.partition("\n")
        return f"{first} [{value}]{sep}{rest}"


def formatter(service: str, log_format: str | None = None, stream: Any = None) -> logging.Formatter:
    """The formatter for ``service``'s log lines (a logging config's ``()`` factory):
    ``log_format`` is ``json``, ``text`` or ``auto`` (text only when ``stream``, stdout
    by default, is a terminal); unset, it is read from ``LOG_FORMAT``."""
    chosen = (log_format or os.environ.get("LOG_FORMAT") or "auto").strip().lower()
    if chosen not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {chosen!r}")
    if chosen == "auto":
        out = stream or sys.stdout
        chosen = "text" if hasattr(out, "isatty") and out.isatty() else "json"
    return EngageJsonFormatter(service) if chosen == "json" else EngageTextFormatter(service)


def logging_config(service: str, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for a process that has no nameko config (the
    gateway, gunicorn): every line to stdout through ``formatter``, expected outcomes as
    one line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"engage": {"()": formatter, "service": service}},
        "filters": {"expected_outcomes": {"()": ExpectedOutcomeFilter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "engage",
                "filters": ["expected_outcomes"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
    }
