"""Messages go once, never to an address that opted out, always with a way to stop; failed
sends are retried, then given up with the error kept. A real SMTP server (aiosmtpd) on
this machine, and a stand-in for GOV.UK Notify's API on this machine."""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import eventlet
import jwt
import pytest

from engage_common.db import Pool
from engage_common.notify import (
    LogSender,
    NotificationFailed,
    Notifier,
    NotifySender,
    SmtpSender,
    forget_recipients,
    sender_from_settings,
)
from engage_common.testing import Mailbox, eventually, holds_for
from engage_common.testing import smtp_server as start_smtp

FROM = "engage@example.nhs.uk"
UNSUBSCRIBE = "https://engage.example.nhs.uk/unsubscribe/tok-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Mailbox, int]]]:
    stops: list[Callable[[], None]] = []

    def start(refuse: int = 0) -> tuple[Mailbox, int]:
        mailbox, port, stop = start_smtp(refuse)
        stops.append(stop)
        return mailbox, port

    yield start
    for stop in stops:
        stop()


@pytest.fixture(scope="module")
def pool(make_database: Callable[[str], str]) -> Iterator[Pool]:
    pool = Pool(make_database("surveys"), size=10)
    yield pool
    pool.close()


def key() -> str:
    return f"test:{uuid.uuid4()}"


def row(pool: Pool, message_key: str) -> dict[str, Any]:
    with pool.connection() as conn:
        return conn.execute(
            "SELECT * FROM notifications WHERE message_key = %s", (message_key,)
        ).fetchone()


def test_a_message_arrives_once_with_its_way_to_stop(pool: Pool, smtp_server) -> None:
    """The SMTP server runs in a greenthread of this hub: a send that blocked the hub would
    never be answered, so delivery also shows that smtplib runs off it."""
    mailbox, port = smtp_server()
    notifier = Notifier(pool, SmtpSender("127.0.0.1", port, FROM), backoff=0.01)
    k = key()

    sent = notifier.send(k, "Resident@Example.org", "Your feedback", "Thank you.", UNSUBSCRIBE)

    assert sent == "sent"

    eventually(lambda: mailbox.messages, timeout=5, what="the message")
    message = mailbox.messages[0]
    assert message["Subject"] == "Your feedback"
    assert message["To"] == "resident@example.org"
    assert message["From"] == FROM
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_content().replace("\r\n", "\n")
    assert body.startswith("Thank you.\n")
    assert body.rstrip().endswith(f"To stop getting these messages: {UNSUBSCRIBE}")
    stored = row(pool, k)
    assert (stored["status"], stored["attempts"], stored["last_error"]) == ("sent", 1, None)
    assert stored["sent_at"] is not None

    again = notifier.send(k, "resident@example.org", "Your feedback", "Again", UNSUBSCRIBE)
    assert again == "duplicate"
    holds_for(lambda: len(mailbox.messages) == 1, 0.3, what="nothing more delivered")
    assert row(pool, k)["attempts"] == 1


def test_the_same_key_sent_at_once_from_many_greenthreads_goes_once(
    pool: Pool, smtp_server
) -> None:
    mailbox, port = smtp_server()
    notifier = Notifier(pool, SmtpSender("127.0.0.1", port, FROM), backoff=0.01)
    k = key()

    results = list(
        eventlet.GreenPool(6).imap(
            lambda _: notifier.send(k, "a@example.org", "Hello", "Hi", UNSUBSCRIBE), range(6)
        )
    )

    assert sorted(results) == ["duplicate"] * 5 + ["sent"]
    eventually(lambda: mailbox.messages, timeout=5, what="the message")
    holds_for(lambda: len(mailbox.messages) == 1, 0.3, what="one message only")


def test_an_address_that_opted_out_gets_nothing(pool: Pool, smtp_server) -> None:
    mailbox, port = smtp_server()
    notifier = Notifier(pool, SmtpSender("127.0.0.1", port, FROM), backoff=0.01)
    address = f"Stop-{uuid.uuid4().hex[:8]}@Example.org"
    notifier.opt_out(address)
    notifier.opt_out(address.upper())  # already there: no error
    k = key()

    assert notifier.is_opted_out(address.lower())
    assert notifier.send(k, f"  {address.upper()} ", "News", "Hi", UNSUBSCRIBE) == "opted-out"
    assert notifier.send(k, address, "News", "Hi", UNSUBSCRIBE) == "opted-out"

    holds_for(lambda: not mailbox.messages, 0.3, what="nothing delivered")
    assert (row(pool, k)["status"], row(pool, k)["attempts"]) == ("opted-out", 0)


def test_a_refused_send_is_retried_then_delivered(pool: Pool, smtp_server) -> None:
    mailbox, port = smtp_server(refuse=1)
    notifier = Notifier(pool, SmtpSender("127.0.0.1", port, FROM), attempts=3, backoff=0.01)
    k = key()

    assert notifier.send(k, "b@example.org", "Retry", "Body", UNSUBSCRIBE) == "sent"

    eventually(lambda: mailbox.messages, timeout=5, what="the message")
    stored = row(pool, k)
    assert (stored["status"], stored["attempts"]) == ("sent", 2)
    assert "451" in stored["last_error"]
    holds_for(lambda: len(mailbox.messages) == 1, 0.2, what="one message only")


def test_no_server_gives_up_with_the_error_kept_and_a_later_send_may_try_again(
    pool: Pool, smtp_server
) -> None:
    nowhere = SmtpSender("127.0.0.1", free_port(), FROM, timeout=2)
    k = key()

    notifier = Notifier(pool, nowhere, attempts=3, backoff=0.01)
    with pytest.raises(NotificationFailed, match="ConnectionRefusedError"):
        notifier.send(k, "c@example.org", "S", "B", UNSUBSCRIBE)

    stored = row(pool, k)
    assert (stored["status"], stored["attempts"]) == ("failed", 3)
    assert "ConnectionRefusedError" in stored["last_error"]
    assert stored["sent_at"] is None

    mailbox, port = smtp_server()
    later = Notifier(pool, SmtpSender("127.0.0.1", port, FROM), backoff=0.01)
    assert later.send(k, "c@example.org", "S", "B", UNSUBSCRIBE) == "sent"
    eventually(lambda: mailbox.messages, timeout=5, what="the message")
    assert (row(pool, k)["status"], row(pool, k)["attempts"]) == ("sent", 4)
    assert later.send(k, "c@example.org", "S", "B", UNSUBSCRIBE) == "duplicate"


def test_a_message_without_an_unsubscribe_url_is_refused(pool: Pool) -> None:
    with pytest.raises(ValueError, match="unsubscribe"):
        Notifier(pool, LogSender()).send(key(), "d@example.org", "S", "B", "")


class NotifyStub(BaseHTTPRequestHandler):
    """GOV.UK Notify's POST /v2/notifications/email, answering from ``server.statuses``."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        stub = self.server
        assert isinstance(stub, NotifyStubServer)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        stub.received.append((self.path, self.headers["Authorization"], body))
        status = stub.statuses.pop(0) if stub.statuses else 201
        payload = json.dumps(
            {"id": str(uuid.uuid4()), "reference": body.get("reference")}
            if status == 201
            else {"status_code": status, "errors": [{"error": "Error", "message": "down"}]}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class NotifyStubServer(HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), NotifyStub)
        self.received: list[tuple[str, str, dict[str, Any]]] = []
        self.statuses: list[int] = []


@pytest.fixture
def notify_stub() -> Iterator[NotifyStubServer]:
    server = NotifyStubServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"engage_test-{SERVICE_ID}-{SECRET}"


def test_notify_gets_the_template_personalisation_and_one_click_unsubscribe(
    pool: Pool, notify_stub: NotifyStubServer
) -> None:
    notify_stub.statuses.append(500)
    base_url = f"http://127.0.0.1:{notify_stub.server_port}"
    sender = sender_from_settings(
        {"NOTIFY_API_KEY": API_KEY, "NOTIFY_TEMPLATE_ID": "tmpl-1", "NOTIFY_BASE_URL": base_url}
    )
    assert isinstance(sender, NotifySender)
    k = key()

    notifier = Notifier(pool, sender, backoff=0.01)
    result = notifier.send(k, "E@Example.org", "Thanks", "We read it.", UNSUBSCRIBE)

    assert result == "sent"
    received = notify_stub.received
    assert len(received) == 2  # one 500, then accepted
    path, authorization, body = received[-1]
    assert path == "/v2/notifications/email"
    token = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    assert token["iss"] == SERVICE_ID
    assert body == {
        "email_address": "e@example.org",
        "template_id": "tmpl-1",
        "personalisation": {
            "subject": "Thanks",
            "body": f"We read it.\n\n---\nTo stop getting these messages: {UNSUBSCRIBE}\n",
            "unsubscribe_link": UNSUBSCRIBE,
        },
        "reference": k,
        "one_click_unsubscribe_url": UNSUBSCRIBE,
    }
    stored = row(pool, k)
    assert (stored["status"], stored["attempts"]) == ("sent", 2)
    assert "500" in stored["last_error"]


def test_the_sender_comes_from_the_settings() -> None:
    smtp = sender_from_settings(
        {"SMTP_HOST": "mail.example", "SMTP_PORT": "587", "SMTP_FROM": FROM, "SMTP_TLS": "true"}
    )
    assert isinstance(smtp, SmtpSender)
    assert (smtp.host, smtp.port, smtp.from_address, smtp.use_tls) == (
        "mail.example",
        587,
        FROM,
        True,
    )
    default_port = sender_from_settings({"SMTP_HOST": "mail.example", "SMTP_FROM": FROM})
    assert isinstance(default_port, SmtpSender) and default_port.port == 25
    assert isinstance(sender_from_settings({}), LogSender)
    assert isinstance(sender_from_settings({"NOTIFY_API_KEY": "", "SMTP_HOST": ""}), LogSender)
    with pytest.raises(ValueError, match="NOTIFY_TEMPLATE_ID"):
        sender_from_settings({"NOTIFY_API_KEY": API_KEY})
    with pytest.raises(ValueError, match="SMTP_FROM"):
        sender_from_settings({"SMTP_HOST": "mail.example"})


def test_the_log_sender_sends_nothing_and_logs_no_address(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    k = key()
    with caplog.at_level(logging.INFO, logger="engage_common.notify"):
        sent = Notifier(pool, LogSender()).send(k, "jane.smith@example.org", "Hi", "B", UNSUBSCRIBE)
    assert sent == "sent"
    assert k in caplog.text and "j***@example.org" in caplog.text
    assert "jane.smith" not in caplog.text


def test_erased_recipients_are_forgotten_but_their_messages_still_go_once(pool: Pool) -> None:
    notifier = Notifier(pool, LogSender())
    prefix = f"reply:{uuid.uuid4()}:"
    other = key()
    assert notifier.send(prefix + "1", "jane@example.org", "S", "B", UNSUBSCRIBE) == "sent"
    assert notifier.send(other, "jane@example.org", "S", "B", UNSUBSCRIBE) == "sent"
    with pool.connection() as conn:
        # LIKE wildcards in a prefix are literal: "reply:_" forgets nothing here.
        assert forget_recipients(conn, ["reply:_"]) == 0
        assert forget_recipients(conn, [prefix]) == 1
        assert forget_recipients(conn, [prefix]) == 0
    assert row(pool, prefix + "1")["to_address"] == "[erased]"
    assert row(pool, other)["to_address"] == "jane@example.org"
    assert notifier.send(prefix + "1", "jane@example.org", "S", "B", UNSUBSCRIBE) == "duplicate"
