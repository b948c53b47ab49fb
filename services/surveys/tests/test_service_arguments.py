"""The RPC's plain arguments are checked by the contract's schemas, over the wire: the
same fields and messages as ``engage_contracts.surveys`` gives, ``NotFound`` for a code
or id that names nothing, and nothing PostgreSQL cannot store ever reaches it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.errors import NotFound, ValidationFailed
from surveys.service import SurveysService

NUL = "cannot contain the NUL character (U+0000)"


@pytest.fixture(scope="module")
def config(make_vhost: Callable[[], str], make_database: Callable[[str], str]) -> dict[str, Any]:
    return {"AMQP_URI": make_vhost(), "DATABASE_URL": make_database("surveys"), "max_workers": 4}


@pytest.fixture
def rpc(container_factory: Any, config: dict[str, Any]) -> Iterator[Any]:
    container_factory(SurveysService, config).start()
    with ClusterRpcProxy(config, timeout=20) as proxy:
        yield proxy.surveys


def errors(call: Callable[..., Any], *args: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as exc:
        call(*args)
    return exc.value.errors


def test_receipt_codes(rpc: Any) -> None:
    for method in (rpc.get_submission, rpc.get_my_response, rpc.delete_my_response):
        for nothing in ("AAAA-BBBB-CCCC", " aaaa-bbbb-cccc ", "", None, 12):
            with pytest.raises(NotFound):
                method(nothing)
        assert errors(method, "AAAA\x00") == {"receipt_code": [NUL]}


def test_export_arguments(rpc: Any) -> None:
    cid = rpc.create_consultation({"title": "T", "summary": "S"})["id"]
    assert rpc.export_responses(cid)["next_after"] is None
    assert rpc.export_responses(cid, None, 5000)["rows"] == "[]"
    assert errors(rpc.export_responses, cid, -1, 0) == {
        "after": ["must be a whole number of at least 0"],
        "limit": ["must be a whole number from 1 to 5000"],
    }
    assert set(errors(rpc.export_responses, cid, True, "10")) == {"after", "limit"}
    assert errors(rpc.export_responses, str(uuid.uuid4()), 0, 5001) == {
        "limit": ["must be a whole number from 1 to 5000"]
    }
    with pytest.raises(NotFound):
        rpc.export_responses(str(uuid.uuid4()), 0, 10)


def test_personal_data_search_arguments(rpc: Any) -> None:
    assert rpc.find_personal_data("ZZZZ-ZZZZ-ZZZZ") == {"responses": [], "truncated": False}
    assert rpc.find_personal_data(None, "  nobody at all  ")["responses"] == []
    assert errors(rpc.find_personal_data, None, None) == {
        "_schema": ["give a receipt code, a text to search for, or both"]
    }
    assert errors(rpc.find_personal_data, " ", "") == {"text": ["must be 3 to 200 characters"]}
    assert errors(rpc.find_personal_data, None, " ab ") == {"text": ["must be 3 to 200 characters"]}
    assert errors(rpc.find_personal_data, None, "x" * 201) == {
        "text": ["must be 3 to 200 characters"]
    }
    assert errors(rpc.find_personal_data, None, 123) == {"text": ["must be text"]}
    assert errors(rpc.find_personal_data, None, "abc\x00") == {"text": [NUL]}
    assert errors(rpc.find_personal_data, "A\x00", None) == {"receipt_code": [NUL]}


def test_erase_arguments(rpc: Any) -> None:
    assert rpc.erase_responses([]) == {"erased": 0, "response_ids": []}
    assert rpc.erase_responses([2**31, 5, 5]) == {"erased": 0, "response_ids": []}
    wrong = {"response_ids": ["must be a list of up to 1000 response ids"]}
    for ids in (None, 5, [1, "2"], [True], list(range(1001))):
        assert errors(rpc.erase_responses, ids) == wrong


def test_purge_arguments(rpc: Any) -> None:
    assert rpc.purge_expired() == {"purged": 0}
    assert rpc.purge_expired("2026-03-01T09:00:00+00:00") == {"purged": 0}
    assert errors(rpc.purge_expired, "soon") == {"now": ["must be a date and time"]}
    assert errors(rpc.purge_expired, "2026-03-01T09:00:00") == {"now": ["must include a time zone"]}
