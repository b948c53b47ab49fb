"""The easy-read pages: a consultation in easy read (its points, each a short sentence with
a picture, then the same form in easy-read wording), and its pictures, served from surveys
by their sha256 with long cache headers (one RPC per picture per process, then cached)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response, request

from engage_common.errors import NotFound
from gateway.application import easy_read as easy
from gateway.application.responses import current_or_snapshot
from gateway.context import engage
from gateway.http import Blueprint, error_doc
from gateway.security import READ, rate_limited
from gateway.web import _render_consultation, _visible, bp, page

# Named by the sha256 of its bytes, a picture never changes: browsers keep it a year.
FOREVER = "public, max-age=31536000, immutable"
PICTURE = {"schema": {"type": "string", "format": "binary"}}


@bp.route("/consultations/<uuid:consultation_id>/easy-read", methods=["GET"])
@page(
    "A consultation in easy read: short sentences, each with a picture, then the same form "
    "in easy-read wording (questions without it keep the standard wording)",
    errors=(404, 503),
)
def easy_read(consultation_id: UUID) -> Any:
    found = _visible(current_or_snapshot(engage(), str(consultation_id)))
    if not found.get("easy_read"):
        raise NotFound("This consultation has no easy read version")
    return _render_consultation(found, easy_read=True)


@bp.route("/consultations/<uuid:consultation_id>/easy-read/images/<sha256>", methods=["GET"])
@rate_limited(READ, html=True)
@Blueprint.doc(
    summary="A picture of a consultation's easy-read version, by the sha256 of its bytes",
    description="Cached for a year (its name is its content); `If-None-Match` with its "
    "ETag answers 304 without asking surveys.",
    responses={
        "200": {
            "description": "the picture",
            "content": {"image/png": PICTURE, "image/jpeg": PICTURE},
        },
        "304": {"description": "the copy you have is this picture"},
        "404": error_doc(404, html=True),
        "429": error_doc(429, html=True),
        "503": error_doc(503, html=True),
    },
)
def easy_read_picture(consultation_id: UUID, sha256: str) -> Any:
    if not easy.is_sha256(sha256):
        raise NotFound("There is no such picture")
    headers = {"Cache-Control": FOREVER, "ETag": f'"{sha256}"'}
    if sha256 in request.if_none_match:
        return Response(status=304, headers=headers)
    found = easy.picture(engage(), str(consultation_id), sha256)
    return Response(found.data, mimetype=found.content_type, headers=headers)
