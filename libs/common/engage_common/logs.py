"""Logs an operator can read: an expected outcome is one line, a failure one traceback.

A service answers "there is no such consultation" by raising ``NotFound`` (or
``Conflict``, ``ValidationFailed``); the caller turns it into a 404/409/422. That is
normal traffic, but nameko 2.14 logs every exception an entrypoint raises with its
traceback (``ServiceContainer._run_worker``): at ERROR, or at WARNING when the
entrypoint lists it in ``expected_exceptions``. ``ExpectedOutcomeFilter``, attached to a
handler in a service's LOGGING config, turns such a record into one INFO line::

    INFO nameko.containers: surveys.get_consultation: NotFound: There is no consultation ...

Services declare the outcomes with ``@rpc(expected_exceptions=EXPECTED)``.
"""

from __future__ import annotations

import logging

from nameko.containers import WorkerContext

from engage_common.errors import Conflict, NotFound, ValidationFailed

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
