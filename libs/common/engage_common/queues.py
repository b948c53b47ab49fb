"""One-off migration of a broker's classic queues to quorum queues.

Engage declares the queues that hold residents' input and domain events as quorum
queues (``engage_common.messaging``). A broker that ran an earlier Engage has them as
classic queues, and RabbitMQ refuses to redeclare a queue with another type
(``PRECONDITION_FAILED``), so the services would not start. ``migrate_queues`` turns
each of ours that is classic into a quorum queue with the same name, bindings and
messages, and deletes the durable RPC request queues (``rpc-<service>``) an earlier
Engage declared: a service now declares its RPC queue transient, so that it can recreate
it on another node when its own dies. Requests waiting in one are stale (their callers
gave up), so they go with it. Run it with the services stopped (``./engage up`` does,
before starting them; an operator: ``./engage manage migrate-queues``). Running it again
changes nothing.

For each classic queue ``Q`` (its consumers stopped) it:

1. declares the quorum queue ``Q.quorum-migration`` with ``Q``'s bindings, then unbinds
   ``Q``: what is published from now on lands in the new queue;
2. moves ``Q``'s messages there (each republished with confirms, then acknowledged)
   and deletes ``Q`` once it is empty;
3. declares ``Q`` as a quorum queue with its bindings, unbinds the temporary queue,
   moves its messages back and deletes it.

A message is never acknowledged before its copy is confirmed, so a crash loses nothing:
run it again and it carries on from the temporary queue. A crash between a copy and its
acknowledgement delivers that message twice, which the consumers ignore (they claim
each message id once). The order of the messages may change.

RabbitMQ lists queues only through its management API: its URL is
``RABBITMQ_MANAGEMENT_URL``, or port 15672 of the first host of ``AMQP_URI`` that answers,
with ``AMQP_URI``'s user and vhost.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlparse

import requests
from amqp import Message
from kombu import Connection

from engage_common.messaging import DEAD_LETTER_QUEUE, QUORUM, amqp_uris

SUFFIX = ".quorum-migration"
PROPERTIES = (
    "content_type",
    "content_encoding",
    "application_headers",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)


def is_ours(queue: dict[str, Any]) -> bool:
    """A queue (as the management API lists it) that Engage declares as a quorum queue:
    a submissions queue, the dead-letter queue, or an event handler's pooled queue
    (nameko's ``evt-SOURCE-TYPE--SERVICE.METHOD``, durable and shared; broadcast ones
    are exclusive or auto-delete)."""
    name = queue["name"]
    if name.endswith(SUFFIX):
        return False
    if name == DEAD_LETTER_QUEUE.name or name.endswith(".submissions"):
        return True
    return (
        name.startswith("evt-")
        and "--" in name
        and queue.get("durable", False)
        and not queue.get("auto_delete", False)
        and not queue.get("exclusive", False)
    )


@dataclass
class Management:
    """The few management API calls the migration needs, for one vhost."""

    urls: list[str]  # tried in turn: the first that answers
    vhost: str
    auth: tuple[str, str]

    @classmethod
    def for_uri(cls, amqp_uri: str) -> Management:
        nodes = [urlparse(uri) for uri in amqp_uris(amqp_uri)]
        first = nodes[0]
        vhost = unquote(first.path[1:]) if len(first.path) > 1 else "/"
        configured = os.environ.get("RABBITMQ_MANAGEMENT_URL")
        urls = [configured] if configured else [f"http://{n.hostname}:15672" for n in nodes]
        auth = (unquote(first.username or "guest"), unquote(first.password or "guest"))
        return cls([url.rstrip("/") for url in urls], vhost, auth)

    def _get(self, path: str) -> Any:
        for url in self.urls:
            try:
                got = requests.get(f"{url}/api/{path}", auth=self.auth, timeout=30)
            except requests.ConnectionError:
                if url == self.urls[-1]:
                    raise
                continue
            got.raise_for_status()
            return got.json()
        raise AssertionError("no management URL")  # urls is never empty

    def queues(self) -> list[dict[str, Any]]:
        return self._get(
            f"queues/{quote(self.vhost, safe='')}?columns=name,type,durable,auto_delete,exclusive"
        )

    def bindings(self, queue: str) -> list[dict[str, Any]]:
        """The queue's bindings to named exchanges (the default exchange's is implicit)."""
        found = self._get(f"queues/{quote(self.vhost, safe='')}/{quote(queue, safe='')}/bindings")
        return [b for b in found if b["source"]]


def is_durable_rpc(queue: dict[str, Any]) -> bool:
    """An RPC request queue as nameko declares it (durable), not as Engage now does."""
    return queue["name"].startswith("rpc-") and bool(queue.get("durable"))


@dataclass
class Report:
    migrated: dict[str, int] = field(default_factory=dict)  # queue -> messages moved
    deleted: list[str] = field(default_factory=list)  # durable RPC queues, recreated transient
    skipped: dict[str, str] = field(default_factory=dict)  # queue -> why


def _move(channel: Any, source: str, target: str) -> int:
    """Move every message of ``source`` to ``target`` (confirmed before acknowledged)."""
    moved = 0
    while (message := channel.basic_get(source, no_ack=False)) is not None:
        properties = {k: message.properties[k] for k in PROPERTIES if k in message.properties}
        channel.basic_publish(
            Message(message.body, delivery_mode=2, **properties), exchange="", routing_key=target
        )
        channel.basic_ack(message.delivery_info["delivery_tag"])
        moved += 1
    return moved


def _rebind(channel: Any, queue: str, bindings: list[dict[str, Any]], bind: bool) -> None:
    for b in bindings:
        call = channel.queue_bind if bind else channel.queue_unbind
        call(queue, b["source"], b["routing_key"], arguments=b.get("arguments") or {})


def _declare_quorum(channel: Any, queue: str) -> None:
    channel.queue_declare(queue, durable=True, auto_delete=False, arguments=dict(QUORUM))


def _drain_and_delete(channel: Any, source: str, target: str) -> int:
    """Move ``source`` into ``target`` and delete it; again if something came in between
    (quorum queues cannot be deleted "if empty": only we publish to the temporary one)."""
    moved = 0
    while True:
        moved += _move(channel, source, target)
        _, depth, _ = channel.queue_declare(source, passive=True)
        if depth == 0:
            channel.queue_delete(source)
            return moved


def _consumers(conn: Connection, queue: str) -> int:
    channel = conn.channel()
    try:
        return channel.queue_declare(queue, passive=True)[2]
    finally:
        channel.close()


def migrate_queues(amqp_uri: str, say: Callable[[str], None] = lambda _: None) -> Report:
    """Make each of Engage's classic queues in ``amqp_uri``'s vhost a quorum queue with
    the same name, bindings and messages; finish a migration that was interrupted; delete
    the durable RPC queues (recreated transient). A queue with consumers is skipped
    (stop the services first) and named in the report."""
    management = Management.for_uri(amqp_uri)
    report = Report()
    queues = management.queues()
    classic = {q["name"] for q in queues if is_ours(q) and q.get("type") == "classic"}
    todo = sorted(
        classic | {q["name"][: -len(SUFFIX)] for q in queues if q["name"].endswith(SUFFIX)}
    )
    rpc = sorted(q["name"] for q in queues if is_durable_rpc(q))
    if not (todo or rpc):
        return report
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        for name in rpc:
            if consumers := _consumers(conn, name):
                report.skipped[name] = f"{consumers} consumer(s): stop the services first"
                say(f"{name}: skipped ({report.skipped[name]})")
                continue
            with conn.channel() as channel:
                channel.queue_delete(name)
            report.deleted.append(name)
            say(f"{name}: deleted (the service recreates it, transient)")
        for name in todo:
            temporary, moved = name + SUFFIX, 0
            if name in classic:
                if consumers := _consumers(conn, name):
                    report.skipped[name] = f"{consumers} consumer(s): stop the services first"
                    say(f"{name}: skipped ({report.skipped[name]})")
                    continue
                bindings = management.bindings(name)
                # A channel that has used the classic queue must not meet the quorum one
                # of the same name (RabbitMQ 3.10 closes it with an internal error).
                with conn.channel() as channel:
                    _declare_quorum(channel, temporary)
                    _rebind(channel, temporary, bindings, bind=True)
                    _rebind(channel, name, bindings, bind=False)
                    moved = _drain_and_delete(channel, name, temporary)
            bindings = management.bindings(temporary)
            with conn.channel() as channel:
                _declare_quorum(channel, name)
                _rebind(channel, name, bindings, bind=True)
                _rebind(channel, temporary, bindings, bind=False)
                _drain_and_delete(channel, temporary, name)
            report.migrated[name] = moved
            say(f"{name}: now a quorum queue ({moved} message(s) kept)")
    return report


def main() -> int:
    """``python -m engage_common.queues``: migrate ``AMQP_URI``'s vhost; 1 if a queue
    had to be skipped."""
    amqp_uri = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    report = migrate_queues(amqp_uri, say=print)
    if not (report.migrated or report.deleted or report.skipped):
        print("every queue already has its type: nothing to migrate")
    for name, why in report.skipped.items():
        print(f"not migrated: {name}: {why}", file=sys.stderr)
    return 1 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
