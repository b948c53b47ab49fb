"""``@doc(...)``: what the OpenAPI document says about a view, kept on the view itself
so the document is built from the very schemas that validate requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from marshmallow import Schema

F = TypeVar("F", bound=Callable[..., Any])

SchemaLike = type[Schema] | Schema


def doc(
    summary: str,
    *,
    tag: str,
    body: SchemaLike | None = None,
    query: SchemaLike | None = None,
    response: SchemaLike | None = None,
    status: int = 200,
    errors: Sequence[int] = (),
    description: str = "",
    produces: str = "application/json",
    headers: dict[str, str] | None = None,
    request_headers: dict[str, str] | None = None,
    consumes: str = "application/json",
) -> Callable[[F], F]:
    """``errors``: the 4xx/5xx statuses the route can answer (all use the error schema).
    ``headers``: response headers on success; ``request_headers``: optional request headers.
    ``consumes``: the request body's media type (web forms post
    ``application/x-www-form-urlencoded``).
    """

    def decorate(view: F) -> F:
        view.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "tag": tag,
            "body": body,
            "query": query,
            "response": response,
            "status": status,
            "errors": tuple(errors),
            "description": description,
            "produces": produces,
            "headers": headers or {},
            "request_headers": request_headers or {},
            "consumes": consumes,
        }
        return view

    return decorate
