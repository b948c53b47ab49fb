"""Send messages to people: each at most once, never to an address that asked us to stop,
and always with a way to stop.

``Notifier(pool, sender).send(message_key, to, subject, body, unsubscribe_url)`` writes a
row for the message in ``notifications`` in its own transaction, sends, then marks it
sent. A second call with the same key (a redelivered event, a retried request, another
process at the same moment) finds the row and sends nothing: "duplicate". An address in
``notification_opt_outs`` gets nothing: "opted-out". A failed send is retried a few
times with growing pauses, counting attempts and keeping the last error; after the last
it raises ``NotificationFailed`` and the row says "failed", and a later call with the
same key may try again. A process that dies while sending leaves the row "sending": it
may or may not have gone, so it is never sent again by itself.

Every message carries its unsubscribe URL in a footer of the body and, by email, in the
``List-Unsubscribe`` header with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058). So the URL must stop the messages when it is POSTed to with no further
questions (mail providers do that from the header), and may show a page on GET.

Settings, read by ``sender_from_settings`` (a service passes its environment or config):

- ``NOTIFY_API_KEY`` and ``NOTIFY_TEMPLATE_ID``: GOV.UK Notify. The email template has
  the subject ``((subject))`` and the body ``((body))`` (the footer is in the body;
  ``((unsubscribe_link))`` is there too). ``NOTIFY_BASE_URL`` only to point elsewhere.
- else ``SMTP_HOST``, ``SMTP_PORT`` (25), ``SMTP_FROM`` (required), ``SMTP_TLS``
  ("true": STARTTLS before anything else), ``SMTP_USERNAME``, ``SMTP_PASSWORD``.
- else (development): ``LogSender``, which logs that a message would have gone and
  sends nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

import eventlet.patcher

from engage_common.db import Pool
from engage_common.hub import off_hub

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

SENT, DUPLICATE, OPTED_OUT = "sent", "duplicate", "opted-out"


class NotificationFailed(Exception):
    """The last attempt to send a message failed; the error is on its row too."""


class Sender(Protocol):
    def send(self, to: str, subject: str, body: str, unsubscribe_url: str, reference: str) -> None:
        """Deliver one message or raise."""


def normalise(address: str) -> str:
    return address.strip().lower()


def with_footer(body: str, unsubscribe_url: str) -> str:
    return f"{body.rstrip()}\n\n---\nTo stop getting these messages: {unsubscribe_url}\n"


ERASED = "[erased]"


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def forget_recipients(conn: psycopg.Connection, key_prefixes: list[str]) -> int:
    """Erase the address of every message whose key starts with one of ``key_prefixes``
    (a resident's data erased or past retention): the row stays, so the message is still
    never sent twice, but no longer says to whom. The number of messages changed."""
    if not key_prefixes:
        return 0
    return conn.execute(
        "UPDATE notifications SET to_address = %s WHERE to_address <> %s"
        " AND message_key LIKE ANY(%s)",
        (ERASED, ERASED, [_like_prefix(p) for p in key_prefixes]),
    ).rowcount


class Notifier:
    def __init__(
        self, db_pool: Pool, sender: Sender, attempts: int = 4, backoff: float = 1.0
    ) -> None:
        """``attempts`` sends at most per call, waiting ``backoff``, then twice that, ...
        between them."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.pool = db_pool
        self.sender = sender
        self.attempts = attempts
        self.backoff = backoff

    def send(self, message_key: str, to: str, subject: str, body: str, unsubscribe_url: str) -> str:
        if not unsubscribe_url.startswith(("https://", "http://")):
            raise ValueError("every message needs an http(s) unsubscribe URL")
        address = normalise(to)
        claimed = self._claim(message_key, address, subject)
        if claimed is not None:
            return claimed
        full_body = with_footer(body, unsubscribe_url)
        for attempt in range(1, self.attempts + 1):
            try:
                self.sender.send(address, subject, full_body, unsubscribe_url, message_key)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:2000]
                last = attempt == self.attempts
                with self.pool.connection() as conn:
                    conn.execute(
                        "UPDATE notifications SET attempts = attempts + 1, last_error = %s,"
                        " status = %s WHERE message_key = %s",
                        (error, "failed" if last else "sending", message_key),
                    )
                if last:
                    raise NotificationFailed(f"{message_key}: {error}") from exc
                log.warning("sending %s failed (attempt %d): %s", message_key, attempt, error)
                time.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                break
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE notifications SET status = 'sent', sent_at = now(),"
                " attempts = attempts + 1 WHERE message_key = %s",
                (message_key,),
            )
        return SENT

    def _claim(self, message_key: str, address: str, subject: str) -> str | None:
        """None when this call is to send the message, else what to answer."""
        with self.pool.connection() as conn:
            inserted = conn.execute(
                "INSERT INTO notifications (message_key, to_address, subject)"
                " VALUES (%s, %s, %s) ON CONFLICT (message_key) DO NOTHING RETURNING 1",
                (message_key, address, subject),
            ).fetchone()
            if not inserted:
                # The row lock makes two callers retrying a failed message take turns.
                row = conn.execute(
                    "SELECT status FROM notifications WHERE message_key = %s FOR UPDATE",
                    (message_key,),
                ).fetchone()
                if row["status"] == OPTED_OUT:
                    return OPTED_OUT
                if row["status"] != "failed":
                    return DUPLICATE
            if self._opted_out(conn, address):
                conn.execute(
                    "UPDATE notifications SET status = 'opted-out' WHERE message_key = %s",
                    (message_key,),
                )
                return OPTED_OUT
            conn.execute(
                "UPDATE notifications SET status = 'sending' WHERE message_key = %s",
                (message_key,),
            )
        return None

    @staticmethod
    def _opted_out(conn: psycopg.Connection, address: str) -> bool:
        return bool(
            conn.execute(
                "SELECT 1 FROM notification_opt_outs WHERE address = %s", (address,)
            ).fetchone()
        )

    def opt_out(self, address: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO notification_opt_outs (address) VALUES (%s)"
                " ON CONFLICT (address) DO NOTHING",
                (normalise(address),),
            )

    def is_opted_out(self, address: str) -> bool:
        with self.pool.connection() as conn:
            return self._opted_out(conn, normalise(address))


def _smtplib() -> ModuleType:
    """smtplib on the real socket and ssl modules when eventlet has patched them: it runs
    in a native thread, where green sockets have no hub to wait on."""
    if eventlet.patcher.is_monkey_patched("socket"):
        return eventlet.patcher.original("smtplib")
    import smtplib

    return smtplib


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        from_address: str,
        use_tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        """``use_tls``: STARTTLS, with the server's certificate verified."""
        self.host = host
        self.port = port
        self.from_address = from_address
        self.use_tls = use_tls
        self.username = username
        self.password = password
        self.timeout = timeout

    def message(self, to: str, subject: str, body: str, unsubscribe_url: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.from_address.rpartition("@")[2] or None)
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(body)
        return message

    def send(self, to: str, subject: str, body: str, unsubscribe_url: str, reference: str) -> None:
        off_hub(self._deliver, self.message(to, subject, body, unsubscribe_url))

    def _deliver(self, message: EmailMessage) -> None:
        smtplib = _smtplib()
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.use_tls:
                smtp.starttls(context=smtplib.ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class NotifySender:
    """GOV.UK Notify through its official client; ``reference`` is the message key."""

    def __init__(self, api_key: str, template_id: str, base_url: str | None = None) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        options = {"base_url": base_url} if base_url else {}
        self.client = NotificationsAPIClient(api_key, **options)
        self.template_id = template_id

    def send(self, to: str, subject: str, body: str, unsubscribe_url: str, reference: str) -> None:
        self.client.send_email_notification(
            email_address=to,
            template_id=self.template_id,
            personalisation={"subject": subject, "body": body, "unsubscribe_link": unsubscribe_url},
            reference=reference,
            one_click_unsubscribe_url=unsubscribe_url,
        )


class LogSender:
    """Development: logs that a message would have gone (address masked), sends nothing."""

    def send(self, to: str, subject: str, body: str, unsubscribe_url: str, reference: str) -> None:
        local, _, domain = to.partition("@")
        log.info(
            "not sending %s to %s***@%s (no NOTIFY_API_KEY or SMTP_HOST): %s",
            reference,
            local[:1],
            domain,
            subject,
        )


def sender_from_settings(settings: Mapping[str, str]) -> Sender:
    if settings.get("NOTIFY_API_KEY"):
        if not settings.get("NOTIFY_TEMPLATE_ID"):
            raise ValueError("NOTIFY_TEMPLATE_ID is needed with NOTIFY_API_KEY")
        return NotifySender(
            settings["NOTIFY_API_KEY"],
            settings["NOTIFY_TEMPLATE_ID"],
            base_url=settings.get("NOTIFY_BASE_URL") or None,
        )
    if settings.get("SMTP_HOST"):
        if not settings.get("SMTP_FROM"):
            raise ValueError("SMTP_FROM is needed with SMTP_HOST")
        return SmtpSender(
            settings["SMTP_HOST"],
            int(settings.get("SMTP_PORT") or 25),
            settings["SMTP_FROM"],
            use_tls=str(settings.get("SMTP_TLS", "")).lower() in {"1", "true", "yes"},
            username=settings.get("SMTP_USERNAME") or None,
            password=settings.get("SMTP_PASSWORD") or None,
        )
    return LogSender()
