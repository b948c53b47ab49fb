"""Errors that cross the RPC boundary intact.

``deserialize_to_instance`` makes nameko rebuild these on the caller's side with
their arguments, so the gateway can turn them into 404/409/422 responses.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


@deserialize_to_instance
class NotFound(Exception):
    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)
        self.message = message


@deserialize_to_instance
class Conflict(Exception):
    """The request is valid but the thing is not in a state that allows it; ``fields``
    optionally names the fields at fault (``{"email": ["is already in use"]}``)."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


@deserialize_to_instance
class ValidationFailed(Exception):
    """``errors`` maps a field path (e.g. ``answers.q3``) to a list of reasons."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors
