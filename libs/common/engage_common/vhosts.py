"""Throwaway RabbitMQ vhosts for tests and benchmarks, through the management API
(a request each, where ``rabbitmqctl`` starts an Erlang VM per call)."""

from __future__ import annotations

import os
from urllib.parse import quote

import requests

from engage_common.messaging import amqp_uris

MANAGEMENT_URL = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
AUTH = ("guest", "guest")


def create_vhost(name: str, amqp_base: str) -> str:
    """Create ``name`` with full rights for guest; its AMQP URI under ``amqp_base``
    (one URI, or several separated by ``;``)."""
    vhost = quote(name, safe="")
    requests.put(f"{MANAGEMENT_URL}/api/vhosts/{vhost}", auth=AUTH, timeout=30).raise_for_status()
    requests.put(
        f"{MANAGEMENT_URL}/api/permissions/{vhost}/guest",
        auth=AUTH,
        timeout=30,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    # AMQP_URI may list several nodes (``;``): the vhost on each
    return ";".join(f"{uri.rstrip('/')}/{name}" for uri in amqp_uris(amqp_base))


def delete_vhost(name: str) -> None:
    requests.delete(f"{MANAGEMENT_URL}/api/vhosts/{quote(name, safe='')}", auth=AUTH, timeout=30)
