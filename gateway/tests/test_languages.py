"""Languages on the resident pages (issue 14, item 2): every interface string is in every
shipped catalogue with a draft translation that keeps its placeholders, the compiled
catalogues match their sources, a language is offered
only when the ICS marks it reviewed (a demo offers the rest under a banner), the choice
is kept in a cookie, and a string with no translation shows in English."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, gettext

from gateway.app import create_app
from gateway.config import Settings

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "gateway" / "gateway" / "translations"
SHIPPED = ("ur", "pl")


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")


def _strings(message: Any) -> tuple[str, ...]:
    """A message's translation(s): one, or one per plural form."""
    string = message.string
    return tuple(string) if isinstance(string, tuple | list) else (string,)


def _key(message_id: Any) -> Any:
    return tuple(message_id) if isinstance(message_id, list) else message_id


def _ids(catalog: object) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}  # type: ignore[attr-defined]


def test_every_interface_string_is_in_every_shipped_catalogue(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "-q",
            "extract",
            "-F",
            "gateway/babel.cfg",
            "-k",
            "_l",
            "-k",
            "N_",  # the contracts' wording for residents (engage_contracts.wording)
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as f:
        wanted = _ids(read_po(f))
    assert len(wanted) > 200
    for code in SHIPPED:
        with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
            po = read_po(f)
        missing = sorted(wanted - _ids(po))
        assert not missing, f"{code}: update the catalogue (pybabel update): {missing[:20]}"
        assert "NEEDS REVIEW" in po.header_comment, code
        # Every string has a draft (a native speaker reviews them all before the ICS marks
        # the language reviewed); placeholders survive translation.
        untranslated = [m.id for m in po if m.id and not all(_strings(m))]
        assert not untranslated, f"{code}: draft a translation for: {untranslated[:20]}"
        for m in po:
            for string in _strings(m) if m.id else ():
                ids = m.id if isinstance(m.id, tuple) else (m.id,)
                assert set(PLACEHOLDER.findall(string)) == set(PLACEHOLDER.findall(ids[-1])), (
                    code,
                    m.id,
                    string,
                )
        # The .mo shipped beside it was compiled from this .po (pybabel compile).
        with (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").open("rb") as f:
            mo = read_mo(f)
        translated = {_key(m.id): _strings(m) for m in po if m.id and all(_strings(m))}
        compiled = {_key(m.id): _strings(m) for m in mo if m.id and all(_strings(m))}
        assert compiled == translated, (
            f"{code}: run pybabel compile -d gateway/gateway/translations"
        )


@pytest.fixture(scope="module")
def apps(
    make_vhost: Callable[[], str], make_database: Callable[[str], str]
) -> Iterator[dict[str, Flask]]:
    """The gateway as deployed (reviewed languages only) and as a demo."""
    made = {
        name: create_app(
            Settings(amqp_uri=make_vhost(), database_url=make_database("gateway"), demo=demo)
        )
        for name, demo in (("live", False), ("demo", True))
    }
    yield made
    for app in made.values():
        app.extensions["engage"].db.close()


def test_unreviewed_languages_are_offered_only_in_a_demo(apps: dict[str, Flask]) -> None:
    live = apps["live"].test_client()
    page = live.get("/language").get_data(as_text=True)
    assert 'lang="en" dir="ltr"' in page and "Polski" not in page
    chose = live.get("/language/ur?next=/language")
    assert chose.status_code == 303 and "lang=" not in chose.headers.get("Set-Cookie", "")
    assert '<html lang="en" dir="ltr">' in live.get("/language").get_data(as_text=True)

    demo = apps["demo"].test_client()
    assert "Polski" in demo.get("/language").get_data(as_text=True)
    chose = demo.get("/language/ur?next=/language")
    assert chose.status_code == 303 and chose.headers["Location"].endswith("/language")
    urdu = demo.get("/language").get_data(as_text=True)
    assert '<html lang="ur" dir="rtl">' in urdu
    assert "زبان منتخب کریں" in urdu  # "Choose a language"
    assert 'id="translation-banner"' in urdu
    # A page elsewhere is in Urdu too, for the rest of the visit.
    missing = demo.get("/no-such-page")
    assert missing.status_code == 404 and "صفحہ نہیں ملا" in missing.get_data(as_text=True)


def test_a_string_with_no_translation_shows_in_english(apps: dict[str, Flask]) -> None:
    demo = apps["demo"].test_client()
    demo.get("/language/pl")
    page = demo.get("/no-such-page").get_data(as_text=True)
    assert '<html lang="pl" dir="ltr">' in page and "Nie znaleziono strony" in page
    assert "Jeśli wpisałeś adres strony, sprawdź, czy jest poprawny." in page
    # A string the catalogue does not have yet (one added since): English, never a blank.
    with apps["demo"].test_request_context(), force_locale("pl"):
        assert gettext("A sentence no catalogue has yet.") == "A sentence no catalogue has yet."
        assert gettext("Page not found") == "Nie znaleziono strony"


def test_an_open_redirect_is_refused(apps: dict[str, Flask]) -> None:
    chose = apps["demo"].test_client().get("/language/pl?next=//evil.example/")
    assert chose.headers["Location"] == "/"
