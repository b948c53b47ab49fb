"""RPC to the nameko services from a threaded Flask app.

One started ``ClusterRpcProxy`` per thread (starting one declares a reply queue,
which costs a round trip), each call bounded by ``rpc_timeout`` so a service
that does not answer turns into a 503 rather than a hanging request.

Two things nameko 2.14's standalone proxy does not do, added here:

- **Expiration.** Its requests carry no per-message TTL, so a call made while the
  service is down waits in the durable ``rpc-<service>`` queue and runs when the
  service comes back, long after the caller got a 503 (an officer's "open" that
  "failed" would happen anyway). ``ExpiringClusterRpcProxy`` publishes every
  request with ``expiration=timeout``: RabbitMQ drops it unless a consumer takes
  it before the caller gives up.
- **Failing fast.** After a service times out, calls to it fail at once with 503
  for ``cooldown`` seconds, then one call probes it again while the others keep
  failing fast. Without this, every request (and a resident's submission, which
  then falls back to the consultation snapshot) would first wait the full
  timeout. The gateway recovers by itself: the first probe that is answered
  closes the circuit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from gateway.errors import ServiceUnavailable


class _ExpiringClusterProxy(ClusterProxy):
    """``ClusterProxy`` whose method proxies publish with a per-message expiration."""

    def __init__(self, worker_ctx: Any, reply_listener: Any, expiration: float | None) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._expiration = expiration

    def __getattr__(self, name: str) -> ServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._proxies:
            # Publisher options reach kombu's ``publish``: ``expiration`` is in seconds.
            self._proxies[name] = ServiceProxy(self._worker_ctx, name, self._reply_listener,
                                               expiration=self._expiration)
        return self._proxies[name]


class ExpiringClusterRpcProxy(ClusterRpcProxy):
    """A standalone cluster proxy whose requests expire when the caller stops waiting."""

    def __init__(self, config: dict[str, Any], timeout: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(config, timeout=timeout, **kwargs)
        self._proxy = _ExpiringClusterProxy(self._worker_ctx, self._reply_listener, timeout)


class Services:
    def __init__(self, amqp_uri: str, timeout: float, cooldown: float | None = None) -> None:
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self.cooldown = timeout if cooldown is None else cooldown
        self._local = threading.local()
        self._lock = threading.Lock()
        self._down_until: dict[str, float] = {}

    def _proxy(self) -> Any:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            runner = ExpiringClusterRpcProxy(self.config, timeout=self.timeout)
            proxy = runner.start()
            self._local.runner, self._local.proxy = runner, proxy
        return proxy

    def _reset(self) -> None:
        runner = getattr(self._local, "runner", None)
        self._local.runner = self._local.proxy = None
        if runner is not None:
            with contextlib.suppress(Exception):  # the connection is already gone
                runner.stop()

    def _admit(self, service: str) -> None:
        """Fail fast while ``service`` is known to be down; let one caller probe it."""
        with self._lock:
            until = self._down_until.get(service)
            if until is None:
                return
            now = time.monotonic()
            if now < until:
                raise ServiceUnavailable(service, retry_after=max(1, round(until - now)))
            # This caller probes; the others fail fast until it has an answer.
            self._down_until[service] = now + self.timeout + 1

    def _mark(self, service: str, up: bool) -> None:
        with self._lock:
            if up:
                self._down_until.pop(service, None)
            else:
                self._down_until[service] = time.monotonic() + self.cooldown

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self._admit(service)
        try:
            result = getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except (RpcTimeout, UnknownService, OSError, ConnectionError) as exc:
            self._reset()
            self._mark(service, up=False)
            raise ServiceUnavailable(service) from exc
        except Exception:
            self._mark(service, up=True)  # it answered, with an error of its own
            raise
        self._mark(service, up=True)
        return result

    def surveys(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("surveys", method, *args, **kwargs)
