"""Waiting in tests: on a condition with a deadline, never on a fixed sleep.

CI runs on a busy two-core machine, so a test that sleeps "long enough" passes by luck.
``eventually`` polls until a condition is true and fails with what it waited for;
``holds_for`` checks that a condition stays true (e.g. "nothing was stored twice"),
which can only pass on a machine of any speed if the system is right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T], timeout: float = 30.0, what: str = "", interval: float = 0.05
) -> T:
    """Call ``check`` until it returns something truthy (returned) or ``timeout`` passes
    (AssertionError naming ``what`` and the last value seen). Exceptions propagate."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for "
                f"{what or getattr(check, '__name__', check)}; last: {value!r}"
            )
        time.sleep(interval)


def holds_for(
    check: Callable[[], Any], seconds: float, what: str = "", interval: float = 0.05
) -> None:
    """``check`` is truthy on every call for ``seconds`` (AssertionError at the first
    time it is not)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if not value:
            raise AssertionError(f"no longer true: {what or check}; got {value!r}")
        if time.monotonic() > deadline:
            return
        time.sleep(interval)
