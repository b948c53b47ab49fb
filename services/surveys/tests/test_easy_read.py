"""Easy read: pictures checked by their content and kept by surveys, and a consultation's
easy-read version checked against its questions and pictures (domain, then over RPC)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from PIL import Image

from engage_common.errors import Conflict, NotFound, ValidationFailed
from engage_contracts import surveys as contract
from engage_contracts.base import load
from surveys import domain
from surveys.service import SurveysService

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def picture(kind: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 94, 184)).save(out, kind)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def upload_errors(image: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as exc:
        load(contract.ImageUploadSchema(), image)
    return exc.value.errors


def test_a_picture_is_judged_by_its_content_not_its_name() -> None:
    png, jpeg = picture(), picture("JPEG")
    assert domain.read_image(png) == {
        "sha256": hashlib.sha256(png).hexdigest(),
        "content_type": "image/png",
        "bytes": len(png),
        "width": 40,
        "height": 30,
    }
    assert domain.read_image(jpeg)["content_type"] == "image/jpeg"
    loaded = load(contract.ImageUploadSchema(), {"data": b64(png), "alt": "A blue box"})
    assert loaded == {"data": png, "alt": {"en": "A blue box"}}
    assert upload_errors({"data": b64(picture("GIF"))}) == {
        "data": [contract.NOT_AN_IMAGE],
        "alt": ["is required"],
    }
    assert upload_errors({"data": "not base64!", "alt": "x"}) == {
        "data": ["must be the picture's bytes in base64"]
    }
    big = png + b"\0" * contract.IMAGE_MAX_BYTES
    assert upload_errors({"data": b64(big), "alt": "x"})["data"][0].endswith(
        "a picture may be at most 500 KB (512000 bytes)"
    )
    # A PNG signature in front of something else is not a picture.
    with pytest.raises(ValidationFailed) as exc:
        domain.read_image(b"\x89PNG\r\n\x1a\n" + b"<svg onload=alert(1)>")
    assert list(exc.value.errors) == ["data"]


def test_easy_read_names_real_questions_and_uploaded_pictures() -> None:
    sha = "a" * 64
    questionnaire = {"questions": [{"id": "use", "type": "likert", "text": {"en": "Q"}}]}
    images = {sha: {"alt": {"en": "A bus"}, "width": 40, "height": 30}}
    easy = load(
        contract.EasyReadSchema(),
        {
            "points": [{"text": "We want to know what you think.", "image": sha}, {"text": "Hi"}],
            "questions": [{"id": "use", "text": {"en": "Do you agree?", "ur": "کیا"}}],
        },
    )
    consultation = {"status": "open", "questionnaire": questionnaire}
    done = domain.set_easy_read(consultation, easy, images, NOW)["easy_read"]
    assert done["points"][0] == {
        "text": {"en": "We want to know what you think."},
        "image": sha,
        "alt": {"en": "A bus"},
        "width": 40,
        "height": 30,
    }
    assert done["questions"][0]["text"]["ur"] == "کیا"
    wrong = {**easy, "questions": [{**easy["questions"][0], "id": "nope"}]}
    with pytest.raises(ValidationFailed) as exc:
        domain.set_easy_read(consultation, wrong, {}, NOW)
    assert exc.value.errors == {
        "points.0.image": [contract.UNKNOWN_IMAGE],
        "questions.0.id": ["is not a question of this consultation"],
    }
    with pytest.raises(Conflict):
        domain.set_easy_read({**consultation, "status": "closed"}, easy, images, NOW)
    with pytest.raises(ValidationFailed) as exc:
        load(contract.EasyReadSchema(), {"points": [], "questions": [{"id": "x"}]})
    assert exc.value.errors == {
        "points": ["give 1 to 30 points"],
        "questions.0.text": ["is required"],
    }


def test_easy_read_labels_name_the_questions_own_answers_once() -> None:
    questionnaire = {
        "questions": [
            {"id": "use", "type": "likert", "text": {"en": "Q"}},
            {
                "id": "when",
                "type": "single_choice",
                "text": {"en": "When?"},
                "options": [
                    {"value": "weekday", "label": {"en": "Monday to Friday"}},
                    {"value": "weekend", "label": {"en": "Saturday or Sunday"}},
                ],
            },
            {"id": "tell", "type": "free_text", "text": {"en": "Tell us"}},
        ]
    }
    consultation = {"status": "open", "questionnaire": questionnaire}
    easy = load(
        contract.EasyReadSchema(),
        {
            "points": [{"text": "Hi"}],
            "questions": [
                {
                    "id": "use",
                    "text": "Do you agree?",
                    "options": [{"value": "strongly-agree", "label": "Yes, a lot"}],
                },
                {
                    "id": "when",
                    "text": "When do you go?",
                    "options": [{"value": "weekend", "label": {"en": "At the weekend"}}],
                },
            ],
        },
    )
    done = domain.set_easy_read(consultation, easy, {}, NOW)["easy_read"]
    assert done["questions"][0]["options"] == [
        {"value": "strongly-agree", "label": {"en": "Yes, a lot"}}
    ]
    assert done["questions"][1]["options"] == [
        {"value": "weekend", "label": {"en": "At the weekend"}}
    ]

    wrong = load(
        contract.EasyReadSchema(),
        {
            "points": [{"text": "Hi"}],
            "questions": [
                {
                    "id": "when",
                    "text": "When?",
                    "options": [
                        {"value": "weekend", "label": "At the weekend"},
                        {"value": "night", "label": "At night"},
                        {"value": "weekend", "label": "Saturday"},
                    ],
                },
                {"id": "tell", "text": "Tell us", "options": [{"value": "x", "label": "X"}]},
            ],
        },
    )
    with pytest.raises(ValidationFailed) as exc:
        domain.set_easy_read(consultation, wrong, {}, NOW)
    assert exc.value.errors == {
        "questions.0.options.1.value": ["is not one of the question's options: weekday, weekend"],
        "questions.0.options.2.value": ["is given twice"],
        "questions.1.options": [
            "only choice, ranking and likert questions have options, not free_text"
        ],
    }
    with pytest.raises(ValidationFailed) as exc:
        load(
            contract.EasyReadSchema(),
            {
                "points": [{"text": "Hi"}],
                "questions": [{"id": "when", "text": "When?", "options": [{"value": "x"}]}],
            },
        )
    assert exc.value.errors == {"questions.0.options.0.label": ["is required"]}


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict[str, Any]:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys"), "max_workers": 4}


@pytest.fixture
def rpc(container_factory: Any, config: dict[str, Any]) -> Iterator[Any]:
    container_factory(SurveysService, config).start()
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.surveys


def test_pictures_and_easy_read_over_rpc(rpc: Any) -> None:
    now = datetime.now(UTC)
    cid = rpc.create_consultation(
        {
            "title": "Buses",
            "summary": "S",
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=3)).isoformat(),
            "questionnaire": {"questions": [{"id": "use", "type": "likert", "text": "Q?"}]},
        }
    )["id"]
    png = picture()
    stored = rpc.upload_easy_read_image(cid, {"data": b64(png), "alt": {"en": "A blue bus"}})
    sha = hashlib.sha256(png).hexdigest()
    assert stored == {
        "sha256": sha,
        "content_type": "image/png",
        "bytes": len(png),
        "width": 40,
        "height": 30,
        "alt": {"en": "A blue bus"},
    }
    # The same picture again is kept once, with the alt text sent last.
    again = rpc.upload_easy_read_image(cid, {"data": b64(png), "alt": "A bus"})
    assert again["alt"] == {"en": "A bus"}
    assert base64.b64decode(rpc.get_easy_read_image(cid, sha)["data"]) == png
    with pytest.raises(NotFound):
        rpc.get_easy_read_image(cid, "b" * 64)
    with pytest.raises(ValidationFailed) as exc:
        rpc.get_easy_read_image(cid, "../etc/passwd")
    assert list(exc.value.errors) == ["sha256"]

    rpc.open_consultation(cid)
    easy = {
        "points": [{"text": "Tell us about buses.", "image": sha}],
        "questions": [{"id": "use", "text": "Do you like buses?"}],
    }
    shown = rpc.set_easy_read(cid, easy)["easy_read"]
    assert shown["points"][0]["alt"] == {"en": "A bus"} and shown["points"][0]["width"] == 40
    assert rpc.get_consultation(cid)["easy_read"] == shown
    with pytest.raises(ValidationFailed) as exc:
        rpc.set_easy_read(cid, {"points": [{"text": "x", "image": "c" * 64}]})
    assert exc.value.errors == {"points.0.image": [contract.UNKNOWN_IMAGE]}
    assert rpc.set_easy_read(cid, None)["easy_read"] is None
    rpc.close_consultation(cid)
    with pytest.raises(Conflict):
        rpc.set_easy_read(cid, easy)
    with pytest.raises(Conflict):
        rpc.upload_easy_read_image(cid, {"data": b64(png), "alt": "A bus"})
