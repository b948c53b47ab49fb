"""Waiting in tests: on a condition with a deadline, never on a fixed sleep.

CI runs on a busy two-core machine, so a test that sleeps "long enough" passes by luck.
``eventually`` polls until a condition is true and fails with what it waited for;
``holds_for`` checks that a condition stays true (e.g. "nothing was stored twice"),
which can only pass on a machine of any speed if the system is right.
"""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Callable
from email.message import EmailMessage
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


class Mailbox:
    """A real SMTP server's inbox for tests (an aiosmtpd handler): keeps what arrives,
    answers ``451`` (try again later) to the first ``refuse`` messages."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = refuse
        self.port = 0  # set by smtp_server

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def smtp_server(refuse: int = 0) -> tuple[Mailbox, int, Callable[[], None]]:
    """Start a real SMTP server (aiosmtpd, a test dependency) on a free local port:
    ``(mailbox, port, stop)``."""
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = Mailbox(refuse)
    mailbox.port = port
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return mailbox, port, controller.stop
