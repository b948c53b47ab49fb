"""Container healthcheck: call a service's ``health`` RPC over RabbitMQ.

Usage: ``python -m engage_common.healthcheck SERVICE`` with ``AMQP_URI`` in the
environment. Exits 0 only when the service answered and its database is up, so
docker/k8s see a service that is running but cut off from RabbitMQ or
PostgreSQL as unhealthy.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def check(service: str, amqp_uri: str, timeout: float = 5.0) -> dict[str, Any]:
    """The service's health answer; raises when it is unreachable or unwell."""
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
        answer = getattr(cluster, service).health()
    if not (isinstance(answer, dict) and answer.get("service") == service
            and answer.get("database") is True):
        raise RuntimeError(f"unhealthy answer: {answer!r}")
    return answer


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m engage_common.healthcheck SERVICE", file=sys.stderr)
        return 2
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "5"))
    try:
        answer = check(argv[0], os.environ.get("AMQP_URI", DEFAULT_AMQP_URI), timeout)
    except Exception as exc:  # any failure means unhealthy; say why
        print(f"{argv[0]}: unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: healthy {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
