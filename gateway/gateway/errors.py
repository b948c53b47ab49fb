"""HTTP errors: every failure leaves as JSON (API) or a page (web), never a stack trace."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400

    def __init__(
        self,
        message: str,
        fields: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "message": self.message, "fields": self.fields}}


class ServiceUnavailable(ApiError):
    status = 503

    def __init__(self, service: str, retry_after: int = 5) -> None:
        super().__init__(
            f"The {service} service is not answering just now. Please try again shortly.",
            headers={"Retry-After": str(retry_after)},
        )
        self.service = service


class QueueUnavailable(ApiError):
    """RabbitMQ could not take a resident's submission: nothing was queued or stored."""

    status = 503

    def __init__(self, retry_after: int = 10) -> None:
        super().__init__(
            "We cannot take responses just now, so nothing was saved. Please send it again "
            "in a minute: sending the same answers again will not store them twice.",
            headers={"Retry-After": str(retry_after)},
        )
