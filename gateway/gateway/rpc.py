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
- **Failing fast, and recovering at once.** After a call to a service fails for
  want of an answer, every call to it fails at once with 503 instead of each
  waiting the full timeout. Meanwhile a background thread of this process (one per
  gunicorn worker) calls the service's ``health()`` every ``probe_interval``; the
  first answer closes the window, so callers are never told "not answering" by a
  service that answers.

``Services.call_async`` sends a call and returns at once (a ``Pending``), so a caller
can work while the service does: the CSV export asks for its next page before writing
the one it has.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from amqp.exceptions import AMQPError
from kombu import Connection
from kombu.exceptions import OperationalError
from nameko import serialization
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import MethodProxy, ServiceProxy
from nameko.standalone.rpc import (
    ClusterProxy,
    ClusterRpcProxy,
    PollingQueueConsumer,
    SingleThreadedReplyListener,
)

from engage_common.messaging import SHORT_RETRY
from engage_common.observability import CONTEXT_KEY, current_correlation_id
from gateway.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# What a call raises when nobody answered it (as opposed to an error the service sent):
# among them kombu's OperationalError, when the broker went away and does not take the
# request, and AMQP's own errors (a connection the broker closed, a channel it refused).
NO_ANSWER = (RpcTimeout, UnknownService, OSError, ConnectionError, OperationalError, AMQPError)
# A new connection: tried twice, 0.1 s apart (kombu waits 2 s between attempts).
CONNECT_RETRY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0, "interval_max": 0.1}
PROBE_INTERVAL = 0.2
PROBE_TIMEOUT = 1.0
RETRY_AFTER = 2  # seconds a 503 asks the client to wait while a service is down


def connect_timeout(timeout: float) -> float:
    """Seconds a new connection may take to connect and complete AMQP's handshake, for
    calls bounded by ``timeout``: a broker that accepts connections and never answers
    (stalled, or a dead node behind a live load balancer) is then given up on within the
    call's own time (the reply queue's connection is tried twice, the request's three
    times: at most three quarters of it), not after kombu's 5 s an attempt, each tried
    again (12 s in ``test_broker_lost.py`` before this bound)."""
    return max(0.25, timeout / 4)


class _BoundedQueueConsumer(PollingQueueConsumer):
    """nameko's reply consumer, its connection bounded by ``connect_timeout``."""

    def __init__(self, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.connect_timeout = connect_timeout(timeout or 5.0)

    def register_provider(self, provider: Any) -> None:
        # nameko's own, but for the connection's bounds (``CONNECT_RETRY``).
        self.provider = provider
        config = provider.container.config
        self.serializer, self.accept = serialization.setup(config)
        self.connection = Connection(
            config[AMQP_URI_CONFIG_KEY],
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
            connect_timeout=self.connect_timeout,
        )
        self.connection.ensure_connection(**CONNECT_RETRY)
        self.queue = provider.queue
        self._setup_consumer()
        self.stopped = False


class _BoundedReplyListener(SingleThreadedReplyListener):
    def __init__(self, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.queue_consumer = _BoundedQueueConsumer(timeout)


class _BoundedMethodProxy(MethodProxy):
    """nameko's method proxy whose publisher's new connections are bounded as above: one
    attempt each time the publish is tried (``SHORT_RETRY``: three times)."""

    def __init__(self, *args: Any, timeout: float, **options: Any) -> None:
        super().__init__(*args, **options)
        self.publisher.transport_options = {
            "max_retries": 0,
            "connect_timeout": connect_timeout(timeout),
        }


class _BoundedServiceProxy(ServiceProxy):
    def __getattr__(self, name: str) -> MethodProxy:
        return _BoundedMethodProxy(
            self.worker_ctx, self.service_name, name, self.reply_listener, **self.options
        )


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
            # nameko's retry policy rides out a lost connection for about 5 s before
            # giving up; SHORT_RETRY answers 503 within a second when the broker is away.
            self._proxies[name] = _BoundedServiceProxy(
                self._worker_ctx,
                name,
                self._reply_listener,
                expiration=self._expiration,
                retry_policy=SHORT_RETRY,
                timeout=self._expiration or 5.0,
            )
        return self._proxies[name]


class ExpiringClusterRpcProxy(ClusterRpcProxy):
    """A standalone cluster proxy whose requests expire when the caller stops waiting."""

    def __init__(self, config: dict[str, Any], timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(
            config, timeout=timeout, reply_listener_cls=_BoundedReplyListener, **kwargs
        )
        self._proxy = _ExpiringClusterProxy(self._worker_ctx, self._reply_listener, timeout)


class _Caller:
    """A started proxy for one thread, rebuilt after a failure."""

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config, self.timeout = config, timeout
        self._runner: ExpiringClusterRpcProxy | None = None
        self._proxy: Any = None
        # The proxy's context_data (the same dict): nameko sends each key as a
        # ``nameko.<key>`` header; set before each call to the request's correlation id.
        self._context: dict[str, Any] = {}
        self._owner = threading.get_ident()
        self._stale = False  # a reply nobody will read is on its way: rebuild before use

    def _method(self, service: str, method: str) -> Any:
        if self._stale:
            self._stale = False
            self.reset()
        if self._proxy is None:
            self._runner = ExpiringClusterRpcProxy(
                self.config, timeout=self.timeout, context_data=self._context
            )
            self._proxy = self._runner.start()
        correlation = current_correlation_id()
        if correlation:
            self._context[CONTEXT_KEY] = correlation
        else:
            self._context.pop(CONTEXT_KEY, None)
        return getattr(getattr(self._proxy, service), method)

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._method(service, method)(*args, **kwargs)

    def call_async(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """nameko's ``RpcReply``: sent; ``result()`` waits for the answer."""
        return self._method(service, method).call_async(*args, **kwargs)

    def owned_here(self) -> bool:
        return threading.get_ident() == self._owner

    def discard_later(self) -> None:
        """Rebuild the proxy before its next call: a reply sent to it will never be read
        (``Pending.abandon`` from a thread that may not use it)."""
        self._stale = True

    def reset(self) -> None:
        runner, self._runner, self._proxy = self._runner, None, None
        if runner is not None:
            with contextlib.suppress(Exception):  # the connection is already gone
                runner.stop()


class Services:
    def __init__(
        self,
        amqp_uri: str,
        timeout: float,
        probe_interval: float = PROBE_INTERVAL,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self.probe_interval = probe_interval
        self.probe_timeout = min(probe_timeout, timeout)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._down: set[str] = set()
        self._prober: threading.Thread | None = None
        self._callers: list[_Caller] = []  # every thread's, for ``close``
        self._closed = threading.Event()

    def _caller(self) -> _Caller:
        caller = getattr(self._local, "caller", None)
        if caller is None:
            caller = self._local.caller = _Caller(self.config, self.timeout)
            with self._lock:
                self._callers.append(caller)
        return caller

    def close(self) -> None:
        """Stop every thread's proxy, closing its connection, and the health prober (a
        gunicorn worker leaving, its request threads done); a later call starts a new
        proxy, but no prober: a closed ``Services`` fails fast for a service it saw down."""
        self._closed.set()
        with self._lock:
            callers, self._callers = self._callers, []
        self._local = threading.local()
        for caller in callers:
            caller.reset()

    def is_down(self, service: str) -> bool:
        return service in self._down

    def _mark_down(self, service: str) -> None:
        with self._lock:
            if service not in self._down:
                log.warning("%s is not answering: failing fast until it does", service)
            self._down.add(service)
            if self._prober is None and not self._closed.is_set():
                self._prober = threading.Thread(
                    target=self._probe, name="engage-rpc-probe", daemon=True
                )
                self._prober.start()

    def _probe(self) -> None:
        """Call ``health()`` on every service marked down until each answers; then stop."""
        caller = _Caller(self.config, self.probe_timeout)
        try:
            while True:
                with self._lock:
                    down = sorted(self._down)
                    if not down or self._closed.is_set():
                        self._prober = None
                        return
                for service in down:
                    try:
                        caller.call(service, "health")
                    except NO_ANSWER:
                        caller.reset()
                        continue
                    except Exception:  # it answered, with an error of its own: it is up
                        log.warning(
                            "%s answered its health check with an error", service, exc_info=True
                        )
                    with self._lock:
                        self._down.discard(service)
                    log.warning("%s is answering again", service)
                self._closed.wait(self.probe_interval)
        finally:
            caller.reset()

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if service in self._down:
            raise ServiceUnavailable(service, retry_after=RETRY_AFTER)
        caller = self._caller()
        try:
            return caller.call(service, method, *args, **kwargs)
        except NO_ANSWER as exc:
            raise self._no_answer(caller, service) from exc

    def call_async(self, service: str, method: str, *args: Any, **kwargs: Any) -> Pending:
        """Send the call now and return at once; ``Pending.result()`` waits for the answer,
        with ``call``'s timeout and failing fast. Use it from one thread, and settle it:
        ``result()``, or ``abandon()`` when the answer is no longer wanted."""
        if service in self._down:
            raise ServiceUnavailable(service, retry_after=RETRY_AFTER)
        caller = self._caller()
        try:
            reply = caller.call_async(service, method, *args, **kwargs)
        except NO_ANSWER as exc:  # nobody bound to take it, or the broker is gone
            raise self._no_answer(caller, service) from exc
        return Pending(self, caller, service, reply)

    def _no_answer(self, caller: _Caller, service: str) -> ServiceUnavailable:
        caller.reset()
        self._mark_down(service)
        return ServiceUnavailable(service, retry_after=RETRY_AFTER)

    def surveys(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("surveys", method, *args, **kwargs)

    def feedback(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("feedback", method, *args, **kwargs)

    def events(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("events", method, *args, **kwargs)

    def outcomes(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("outcomes", method, *args, **kwargs)


class Pending:
    """A call sent by ``Services.call_async`` and not yet settled."""

    def __init__(self, services: Services, caller: _Caller, service: str, reply: Any) -> None:
        self._services, self._caller, self._service = services, caller, service
        self._reply = reply
        self.settled = False

    def result(self) -> Any:
        """The answer, as ``Services.call`` would return it: a service that does not
        answer in time is marked down and this raises ``ServiceUnavailable``."""
        try:
            return self._reply.result()
        except NO_ANSWER as exc:
            raise self._services._no_answer(self._caller, self._service) from exc
        finally:
            self.settled = True

    def abandon(self) -> None:
        """The answer is not wanted (a download the client left part-way): it is read and
        dropped. Left unread, it would sit unacknowledged in the thread's reply queue and,
        once a later call read past it, in the proxy's memory for as long as the thread
        lives (an export page is megabytes); dropping the proxy instead would leave it in
        RabbitMQ until the reply queue expires (nameko: 5 minutes). Only the thread that
        sent it may read it: from another (a generator finalised elsewhere), the proxy is
        rebuilt at its owner's next call. Nothing if it was already settled."""
        if self.settled:
            return
        if self._caller.owned_here():
            with contextlib.suppress(Exception):  # whatever it was, nobody wants it
                self.result()
        else:
            self.settled = True
            self._caller.discard_later()
