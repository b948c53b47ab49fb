"""Keep CPU-heavy or blocking work off eventlet's hub.

A nameko service runs every worker on one OS thread (eventlet's hub): a call that holds
the CPU (redacting text) or blocks in C (an SMTP conversation with unpatched sockets)
would freeze every other worker meanwhile. ``off_hub`` runs it in one of eventlet's
native threads instead; the calling greenthread waits, the others carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import eventlet.patcher

T = TypeVar("T")


def off_hub(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a native thread when eventlet has patched the standard
    library (as nameko does), else here and now (a plain process, a test)."""
    if eventlet.patcher.is_monkey_patched("thread") or eventlet.patcher.is_monkey_patched("socket"):
        from eventlet import tpool

        return tpool.execute(function, *args)
    return function(*args)
