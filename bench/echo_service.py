"""The RPC ceiling: a nameko service that only answers (bench/run.py starts it with
``nameko run --config bench/echo.yaml bench.echo_service``, like the real services)."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, payload: Any) -> Any:
        return payload
