"""Issue 15: the CSV export asks surveys for its next page before writing the one it has
(``Services.call_async``), and writes each value as ``exports.cell`` would with less work.
A download the client leaves part-way must not leave the thread's RPC proxy holding a
reply nobody reads."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engage_common.testing import eventually
from engage_contracts.reference import current_consent
from gateway import exports
from gateway.application import consultations
from gateway.errors import ServiceUnavailable
from gateway.rpc import Services

YES = {"consent": {"given": True, "version": current_consent()["version"]}}
CHOICE = {
    "id": "choice",
    "type": "single_choice",
    "text": "Where do you go first?",
    "required": True,
    "options": [{"value": "gp", "label": "My GP"}, {"value": "ae", "label": "A&E"}],
}
TELL = {"id": "tell", "type": "free_text", "text": "Tell us more"}


@pytest.fixture
def officer(as_role: dict[str, dict[str, str]]) -> dict[str, str]:
    return as_role["engagement-officer"]


def consultation_with(client: FlaskClient, officer: dict[str, str], texts: list[str]) -> str:
    """An open consultation with one stored response for each text."""
    draft = {
        "title": "Urgent care in Leeds",
        "summary": "Where should urgent care be?",
        "places": ["leeds"],
        "priorities": ["living-well"],
        "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        "questionnaire": {"questions": [CHOICE, TELL]},
    }
    created = client.post("/api/v1/staff/consultations", json=draft, headers=officer)
    assert created.status_code == 201, created.get_json()
    cid = created.json["id"]
    opened = client.post(f"/api/v1/staff/consultations/{cid}/open", headers=officer)
    assert opened.status_code == 200, opened.get_json()
    for text in texts:
        sent = client.post(
            f"/api/v1/consultations/{cid}/responses",
            json={**YES, "answers": {"choice": "gp", "tell": text}},
        )
        assert sent.status_code == 202, sent.get_json()
    url = f"/api/v1/staff/consultations/{cid}"
    eventually(
        lambda: client.get(url, headers=officer).json["response_count"] == len(texts),
        30,
        "every response stored",
    )
    return cid


def unclaimed(services: Services) -> int:
    """Replies this thread's proxy holds or still expects that no caller is waiting for
    (nameko's standalone proxy keeps a reply it read for another call until that call
    asks for it)."""
    runner = services._caller()._runner
    if runner is None:
        return 0
    listener = runner._reply_listener
    return len(listener.queue_consumer.replies) + len(listener._reply_events)


# -- writing ------------------------------------------------------------------------------


VALUES: list[Any] = [
    None,
    0,
    -3,
    1.5,
    -2.25,
    True,
    False,
    "",
    "plain",
    "with, a comma",
    'a "quote"',
    "line\nbreak",
    "=HYPERLINK(1)",
    "+1 more",
    "-2",
    "-minus",
    "@here",
    "\ttab",
    "\rreturn",
    ["a", "=b", None],
    {"k": 1, "=": "v"},
    date(2026, 12, 5),
]


def test_csv_lines_writes_each_value_as_cell_does() -> None:
    rows = [VALUES, list(reversed(VALUES)), []]
    written = "".join(exports.csv_lines(["=h", "b"], iter(rows)))
    by_cell = "".join(exports.csv_line(r) for r in [["=h", "b"], *rows])
    assert written == by_cell
    parsed = list(csv.reader(io.StringIO(written)))
    assert parsed[1][VALUES.index("=HYPERLINK(1)")] == "'=HYPERLINK(1)"
    assert parsed[1][VALUES.index("-2")] == "-2"  # a number stays a number
    assert parsed[1][VALUES.index(True)] == "yes"


def test_csv_lines_chunks_and_the_header_alone() -> None:
    assert "".join(exports.csv_lines(["a", "b"], iter([]))) == "a,b\r\n"
    n = exports.CSV_CHUNK_LINES
    chunks = list(exports.csv_lines(["a"], ([i] for i in range(2 * n + 1))))
    assert [c.count("\r\n") for c in chunks] == [n + 1, n, 1]


def test_csv_lines_closes_its_rows_when_the_download_stops() -> None:
    closed = []

    def rows() -> Iterator[list[Any]]:
        try:
            for i in range(10 * exports.CSV_CHUNK_LINES):
                yield [i]
        finally:
            closed.append(True)

    source = rows()  # held here too: dropping csv_lines' reference alone would not close it
    lines = exports.csv_lines(["n"], source)
    next(lines)
    assert not closed
    lines.close()
    assert closed == [True]


# -- one page in flight --------------------------------------------------------------------


class FakePending:
    def __init__(self, log: list[str], page: dict[str, Any]) -> None:
        self.log, self.page = log, page

    def result(self) -> dict[str, Any]:
        self.log.append(f"result {self.page['n']}")
        return self.page

    def abandon(self) -> None:
        self.log.append(f"abandon {self.page['n']}")


def paged(log: list[str], pages: int) -> tuple[dict[str, Any], Callable[[int], FakePending]]:
    def page(n: int) -> dict[str, Any]:
        last = n == pages - 1
        return {"n": n, "rows": json.dumps([[n, 0], [n, 1]]), "next_after": None if last else n}

    def fetch(after: int) -> FakePending:
        log.append(f"fetch {after + 1}")
        return FakePending(log, page(after + 1))

    return page(0), fetch


def test_the_next_page_is_asked_for_before_this_ones_rows_are_handed_on() -> None:
    log: list[str] = []
    first, fetch = paged(log, 3)
    for row in consultations._rows(first, fetch):
        log.append(f"row {row[0]}.{row[1]}")
    assert log == [
        "fetch 1",
        "row 0.0",
        "row 0.1",
        "result 1",
        "fetch 2",
        "row 1.0",
        "row 1.1",
        "result 2",
        "row 2.0",
        "row 2.1",
    ]


def test_a_download_stopped_part_way_abandons_the_page_in_flight() -> None:
    log: list[str] = []
    first, fetch = paged(log, 3)
    rows = consultations._rows(first, fetch)
    next(rows)
    rows.close()
    assert log == ["fetch 1", "abandon 1"]


# -- through the gateway, against the real surveys service --------------------------------


def test_an_export_left_part_way_leaves_the_threads_proxy_clean(
    surveys: Any,
    client: FlaskClient,
    officer: dict[str, str],
    as_role: dict[str, dict[str, str]],
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [f"answer {n}" for n in range(7)]
    cid = consultation_with(client, officer, texts)
    monkeypatch.setattr(consultations, "EXPORT_PAGE", 2)  # seven responses: four pages
    monkeypatch.setattr(exports, "CSV_CHUNK_LINES", 1)
    url = f"/api/v1/staff/consultations/{cid}/responses.csv"
    services = app.extensions["engage"].services

    # The test client runs the app in this thread: the same thread-local proxy each time.
    proxy = services._caller()._runner
    left = client.get(url, headers=as_role["analyst"], buffered=False)
    assert left.status_code == 200
    first = next(iter(left.response))  # the header and the first row; page 2 is on its way
    assert first.count(b"\r\n") == 2
    left.close()
    # Page 2 was read and dropped: nothing kept, the thread's proxy kept (not rebuilt).
    assert unclaimed(services) == 0
    assert services._caller()._runner is proxy

    whole = client.get(url, headers=as_role["analyst"])
    assert whole.status_code == 200
    rows = list(csv.reader(io.StringIO(whole.get_data(as_text=True))))
    header = rows[0]
    assert sorted(r[header.index("tell")] for r in rows[1:]) == sorted(texts)
    # The abandoned page never came to this thread's proxy, to be kept there unread.
    assert unclaimed(services) == 0
    assert client.get(f"/api/v1/staff/consultations/{cid}", headers=officer).status_code == 200


def test_a_call_sent_ahead_to_a_service_that_stopped_is_a_503_and_fails_fast(
    surveys: Any, amqp: str
) -> None:
    services = Services(amqp, timeout=0.5)
    try:
        assert services.call("surveys", "health") is not None
        surveys.stop()
        pending = services.call_async("surveys", "health")  # queued: nobody takes it
        with pytest.raises(ServiceUnavailable):
            pending.result()
        assert services.is_down("surveys")
        with pytest.raises(ServiceUnavailable):
            services.call_async("surveys", "health")  # at once, without sending
    finally:
        services._down.clear()  # let the background probe stop


def test_a_call_sent_ahead_to_a_service_never_started_is_a_503(
    make_vhost: Callable[[], str],
) -> None:
    services = Services(make_vhost(), timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailable):
            services.call_async("surveys", "health").result()
        assert services.is_down("surveys")
    finally:
        services._down.clear()


def test_a_call_abandoned_from_another_thread_is_dropped_at_the_owners_next_call(
    surveys: Any, amqp: str
) -> None:
    """A generator may be finalised in a thread other than the one whose proxy it used:
    that thread must not stop a proxy another owns, and the owner must not keep the
    reply."""
    services = Services(amqp, timeout=5)
    pending = services.call_async("surveys", "health")
    elsewhere = threading.Thread(target=pending.abandon)
    elsewhere.start()
    elsewhere.join()
    assert services.call("surveys", "health") is not None
    assert unclaimed(services) == 0
