"""Issue 10, community feedback end to end: real processes (the gateway under gunicorn,
the feedback service under ``nameko run``, the projections), real RabbitMQ and
PostgreSQL, and a real SMTP server catching the mail. A resident's feedback is redacted
before staff read it, triaged without lost updates, answered in public and by email
(once), counted in the read model by confirmed theme; a safeguarding concern reaches the
queue and the ICS's contact at once; a partner's CSV imports once however often it is
imported; the resident deletes what they sent."""

from __future__ import annotations

import csv
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from engage_common.db import connect
from engage_common.testing import Mailbox, eventually, holds_for
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent
from tests.conftest import ROOT, Suite

CONSENT = {"given": True, "version": current_consent("feedback")["version"]}
NHS_NUMBER = "943 476 5919"  # passes the modulus-11 check


@pytest.fixture(scope="module")
def tokens(suite: Suite) -> dict[str, str]:
    return {
        role: suite.token(f"fb-{role}@example.nhs.uk", role)
        for role in ("triage-officer", "safeguarding-lead", "analyst", "admin")
    }


def give(suite: Suite, **fields: Any) -> str:
    sent = suite.api("POST", "/feedback", json={"consent": CONSENT, **fields})
    assert sent.status_code == 202, sent.text
    return sent.json()["receipt_code"]


def stored(suite: Suite, code: str) -> dict[str, Any]:
    def receipt() -> dict[str, Any] | None:
        got = suite.api("GET", f"/feedback/receipts/{code}")
        return got.json() if got.status_code == 200 else None

    return eventually(receipt, 60, f"feedback {code} to be stored")


def find(suite: Suite, token: str, **query: Any) -> list[dict[str, Any]]:
    got = suite.api("GET", "/staff/feedback", token, params=query)
    assert got.status_code == 200, got.text
    return got.json()["items"]


def item_for(suite: Suite, token: str, code: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((i for i in find(suite, token) if i["receipt_code"] == code), None)

    return eventually(found, 30, f"{code} in the staff queue")


def test_a_residents_feedback_is_redacted_triaged_answered_and_emailed_once(
    suite: Suite, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    triage, analyst = tokens["triage-officer"], tokens["analyst"]
    words = (
        f"I waited six weeks for appointments at the surgery. Ring me on 07700 900123, "
        f"my NHS number is {NHS_NUMBER}. Ward 7 at 10:30 was fine."
    )
    code = give(
        suite,
        kind="concern",
        about="Hillside surgery",
        text=words,
        place="leeds",
        may_quote=True,
        reply_by="email",
        email="resident@example.org",
    )
    assert stored(suite, code)["status"] == "received"

    # Staff search is stemmed ("appointment" finds "appointments") over redacted text.
    (hit,) = [i for i in find(suite, analyst, q="appointment") if i["receipt_code"] == code]
    assert "[phone number removed]" in hit["text"] and "[NHS number removed]" in hit["text"]
    assert "07700" not in hit["text"] and NHS_NUMBER not in hit["text"]
    assert "Ward 7 at 10:30" in hit["text"]  # not personal: kept
    assert "waiting-times" in [s["theme"] for s in hit["suggested_themes"]]

    # Originals: the triage roles only, each read audited; analysts and admins are refused.
    fid = hit["id"]
    assert suite.api("GET", f"/staff/feedback/{fid}/original", analyst).status_code == 403
    assert suite.api("GET", f"/staff/feedback/{fid}/original", tokens["admin"]).status_code == 403
    original = suite.api("GET", f"/staff/feedback/{fid}/original", triage)
    assert original.status_code == 200 and original.json()["original_text"] == words
    log = suite.api("GET", "/staff/audit-log", tokens["admin"]).json()["entries"]
    assert any(e["action"] == "feedback.read_original" and e["target"] == fid for e in log)

    # Two staff change it at once from the same version: one wins, the other gets 409.
    version = hit["version"]

    def change(themes: list[str]) -> int:
        return suite.api(
            "PATCH",
            f"/staff/feedback/{fid}",
            triage,
            json={"version": version, "themes": themes, "status": "triaged"},
        ).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(change, [["waiting-times"], ["gp-access"]]))
    assert statuses == [200, 409]
    now = suite.api("GET", f"/staff/feedback/{fid}", triage).json()
    assert now["version"] == version + 1 and len(now["themes"]) == 1

    # A public reply: the resident sees it with the receipt, and gets one email.
    replied = suite.api(
        "POST",
        f"/staff/feedback/{fid}/reply",
        triage,
        json={"version": now["version"], "text": "We have passed this to the practice manager."},
    )
    assert replied.status_code == 200, replied.text
    assert (
        suite.api("GET", f"/feedback/receipts/{code}")
        .json()["public_reply"]
        .startswith("We have passed")
    )
    mail = eventually(lambda: mailbox.to("resident@example.org"), 60, "the reply email")
    holds_for(lambda: len(mailbox.to("resident@example.org")) == 1, 2)
    (message,) = mail
    assert "practice manager" in message.get_content()
    stop_link = message["List-Unsubscribe"].strip("<>")
    assert f"/feedback/receipts/{code}/stop-emails" in stop_link
    # The mail provider's one-click unsubscribe: a plain POST, no page, no token.
    one_click = requests.post(
        f"{suite.base_url}/feedback/receipts/{code}/stop-emails",
        data={"List-Unsubscribe": "One-Click"},
        timeout=20,
    )
    assert one_click.status_code == 200 and "We will not email you again" in one_click.text

    # A quote only of redacted text, and only because the resident allowed it.
    quoted = suite.api(
        "POST",
        f"/staff/feedback/{fid}/quote",
        triage,
        json={"version": replied.json()["version"]},
    )
    assert quoted.status_code == 200 and "07700" not in quoted.json()["quote"]


def test_a_safeguarding_concern_tops_the_queue_and_alerts_the_contact_at_once(
    suite: Suite, tokens: dict[str, str], mailbox: Mailbox
) -> None:
    contact = ics().safeguarding["email"]
    before = len(mailbox.to(contact))
    code = give(
        suite,
        kind="experience-of-care",
        about="My neighbour",
        text="My neighbour says she wants to end her life and has stopped eating.",
    )
    stored(suite, code)
    queue = suite.api("GET", "/staff/feedback/safeguarding", tokens["safeguarding-lead"])
    assert queue.status_code == 200
    assert code in [i["receipt_code"] for i in queue.json()["items"]]
    alerts = eventually(
        lambda: mailbox.to(contact)[before:], 60, "the safeguarding alert to the contact"
    )
    assert "end her life" not in alerts[0].get_content()  # categories and a link, not words
    # Ordinary speech is not flagged.
    calm = give(
        suite, kind="idea", about="New clinic", text="I'm dying to see the new clinic open."
    )
    stored(suite, calm)
    queue = suite.api("GET", "/staff/feedback/safeguarding", tokens["safeguarding-lead"]).json()
    assert calm not in [i["receipt_code"] for i in queue["items"]]

    # Text not detected as English is not checked automatically: it tops the triage queue
    # with the urgent items, ahead of the ordinary ones however long they have waited.
    polish = give(
        suite,
        kind="concern",
        about="Przychodnia",
        text="Bardzo długo czekałam na wizytę u lekarza rodzinnego i nikt nie oddzwonił.",
    )
    stored(suite, polish)
    triage = suite.api(
        "GET", "/staff/feedback/queue", tokens["triage-officer"], params={"limit": 100}
    )
    order = [i["receipt_code"] for i in triage.json()["items"]]
    assert order.index(polish) < order.index(calm) and order.index(code) < order.index(calm)
    item = next(i for i in triage.json()["items"] if i["receipt_code"] == polish)
    assert item["language_check"] == "not-checked-automatically"


def test_confirmed_themes_are_counted_in_the_read_model_and_a_deletion_uncounts(
    suite: Suite, tokens: dict[str, str]
) -> None:
    triage = tokens["triage-officer"]
    # Counted from now: the session's suite holds other tests' feedback on transport.
    since = datetime.now(UTC).isoformat()
    codes = [
        give(suite, kind="idea", about="Buses", text=f"A bus to the hospital, idea {i}.")
        for i in range(6)
    ]
    ids = [item_for(suite, triage, code)["id"] for code in codes]
    bulk = suite.api(
        "POST",
        "/staff/feedback/bulk",
        triage,
        json={"feedback_ids": ids, "add_themes": ["transport"], "status": "triaged"},
    )
    assert bulk.status_code == 200 and sorted(bulk.json()["changed"]) == sorted(ids)

    def transport() -> int | None:
        counts = suite.api(
            "GET",
            "/staff/reports/feedback-counts",
            tokens["analyst"],
            params={"received_from": since},
        ).json()
        return next((t["count"] for t in counts["by_theme"] if t["value"] == "transport"), None)

    eventually(lambda: transport() == 6, 60, "6 confirmed 'transport' items counted")
    gone = suite.api("DELETE", f"/feedback/receipts/{codes[0]}/feedback")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert suite.api("GET", f"/feedback/receipts/{codes[0]}").status_code == 404
    eventually(lambda: transport() == 5, 60, "the deleted item uncounted")


def test_a_partners_csv_imports_once_however_often_and_names_its_bad_rows(
    suite: Suite, tokens: dict[str, str], tmp_path: Any
) -> None:
    rows = [
        {"source_id": "P-1", "kind": "compliment", "about": "Pharmacy", "text": "Very kind."},
        {"source_id": "", "kind": "concern", "about": "Parking", "text": "No spaces at all."},
        {"source_id": "P-3", "kind": "moan", "about": "X", "text": "Bad kind."},
        {"source_id": "P-4", "kind": "idea", "about": "", "text": "No subject."},
        {"source_id": "P-5", "kind": "idea", "about": "Cafe", "text": "Open later please."},
    ]
    path = tmp_path / "partner.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, ["source_id", "kind", "about", "text", "consent"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "consent": "yes"})
    command = [
        sys.executable,
        "-m",
        "gateway.cli",
        "import-feedback",
        str(path),
        "--entered-by",
        "fb-triage-officer@example.nhs.uk",
        "--channel",
        "partner",
    ]
    env = suite.env("gateway")
    for _ in range(2):
        run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 1, run.stderr  # bad rows say so in the exit status
        assert "line 4: kind:" in run.stderr and "line 5: about:" in run.stderr
        assert "queued 3 of 5 rows; refused 2" in run.stdout

    def partner_rows() -> list[dict[str, Any]]:
        with connect(suite.databases["feedback"]) as conn:
            return conn.execute(
                "SELECT source_id, channel, entered_by FROM feedback_items"
                " WHERE channel = 'partner' ORDER BY source_id NULLS LAST"
            ).fetchall()

    eventually(lambda: len(partner_rows()) == 3, 60, "three imported rows stored")
    holds_for(lambda: len(partner_rows()) == 3, 3)  # the re-import stored nothing
    assert [r["source_id"] for r in partner_rows()] == ["P-1", "P-5", None]
    assert all(r["entered_by"]["name"] == "triage-officer" for r in partner_rows())
