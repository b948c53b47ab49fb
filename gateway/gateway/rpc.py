"""RPC to the nameko services from a threaded Flask app.

One started ``ClusterRpcProxy`` per thread (starting one declares a reply queue,
which costs a round trip), each call bounded by ``rpc_timeout`` so a service
that does not answer turns into a 503 rather than a hanging request.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from gateway.errors import ServiceUnavailable


class Services:
    def __init__(self, amqp_uri: str, timeout: float) -> None:
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self._local = threading.local()

    def _proxy(self) -> Any:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            proxy = runner.start()
            self._local.runner, self._local.proxy = runner, proxy
        return proxy

    def _reset(self) -> None:
        runner = getattr(self._local, "runner", None)
        self._local.runner = self._local.proxy = None
        if runner is not None:
            with contextlib.suppress(Exception):  # the connection is already gone
                runner.stop()

    def call(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(getattr(self._proxy(), service), method)(*args, **kwargs)
        except (RpcTimeout, UnknownService) as exc:
            self._reset()
            raise ServiceUnavailable(service) from exc
        except (OSError, ConnectionError) as exc:
            self._reset()
            raise ServiceUnavailable(service) from exc

    def surveys(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("surveys", method, *args, **kwargs)
