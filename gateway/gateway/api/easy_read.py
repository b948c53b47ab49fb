"""Staff routes for a consultation's easy-read version: upload its pictures and set (or
remove) its points and its questions' easy-read wording. Same roles as editing it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from uuid import UUID

from flask import request, url_for
from marshmallow import fields

from engage_contracts import surveys as contract
from gateway.application import easy_read
from gateway.application.staff import EDIT
from gateway.auth import current_staff, require_role
from gateway.context import engage
from gateway.errors import ApiError
from gateway.http import Blueprint, errors

blp = Blueprint(
    "staff_easy_read",
    __name__,
    url_prefix="/api/v1/staff",
    description="Easy read versions of consultations (for staff)",
)
CONSULTATION = "/consultations/<uuid:consultation_id>"
# A 500 KB picture is about 683 KB in base64: this body limit leaves room for its alt text.
UPLOAD_MAX_BODY = 1024 * 1024


class UploadedImageSchema(contract.ImageSchema):
    """A picture kept for a consultation's easy-read version."""

    url = fields.String(metadata={"description": "where residents' pages get it"})


def _allow_body(limit: int) -> Callable[[Any], Any]:
    """Let this route take a body of up to ``limit`` bytes (the app's limit is smaller),
    refusing a larger one with a 413 that says the limits."""

    def decorate(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if (request.content_length or 0) > limit:
                raise ApiError(
                    f"The body is larger than {limit // 1024} KB: {contract.IMAGE_LIMIT_MESSAGE}.",
                    fields={"data": [f"is too large: {contract.IMAGE_LIMIT_MESSAGE}"]},
                    status=413,
                )
            request.max_content_length = limit
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _picture_url(consultation_id: str, sha256: str) -> str:
    return url_for("web.easy_read_picture", consultation_id=consultation_id, sha256=sha256)


@blp.route(f"{CONSULTATION}/easy-read/images", methods=["POST"])
@require_role(*EDIT)
@_allow_body(UPLOAD_MAX_BODY)
@blp.arguments(contract.ImageUploadSchema)
@blp.response(201, UploadedImageSchema)
@errors(400, 404, 409, 413, 415, 503)
def upload_image(image: dict[str, Any], consultation_id: UUID) -> Any:
    """Upload a picture for the easy-read version

    A PNG or JPEG of up to 500 KB, base64-encoded in `data`, with its alt text (`alt`,
    text by language). Its type is read from its content, never from a file name. Name it
    in the easy-read version by its `sha256`; residents get it from `url`."""
    cid = str(consultation_id)
    data = contract.ImageUploadSchema().dump(image)
    stored = easy_read.upload_image(engage(), current_staff().id, cid, data)
    return {**stored, "url": _picture_url(cid, stored["sha256"])}, 201


@blp.route(f"{CONSULTATION}/easy-read", methods=["PUT"])
@require_role(*EDIT)
@blp.arguments(contract.EasyReadSchema)
@blp.response(200, contract.ConsultationSchema)
@errors(400, 404, 409, 413, 415, 503)
def set_easy_read(version: dict[str, Any], consultation_id: UUID) -> Any:
    """Set or replace the easy-read version

    `points`: short sentences, one idea each, each with a picture uploaded first (by its
    `sha256`; its alt text is the one uploaded unless `alt` is given). `questions`: the
    easy-read wording of any of the questions, by `id`; the others keep their wording.
    Residents find it at `/consultations/<id>/easy-read` and answer the same form."""
    data = contract.EasyReadSchema().dump(version)
    return easy_read.set_easy_read(engage(), current_staff().id, str(consultation_id), data)


@blp.route(f"{CONSULTATION}/easy-read", methods=["DELETE"])
@require_role(*EDIT)
@blp.response(200, contract.ConsultationSchema)
@errors(404, 409, 503)
def remove_easy_read(consultation_id: UUID) -> Any:
    """Remove the easy-read version (its pictures stay, for a later version)"""
    return easy_read.set_easy_read(engage(), current_staff().id, str(consultation_id), None)
