"""An ICS is configuration: both shipped files load, and a file with mistakes is refused
at start with every problem naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engage_contracts import ics

GOOD = (ics.SHIPPED / "west-yorkshire-and-harrogate.yaml").read_text()


def test_both_shipped_configurations_load_with_their_own_places() -> None:
    wyh = ics.load("west-yorkshire-and-harrogate")
    lsc = ics.load("lancashire-and-south-cumbria")
    assert list(wyh.place_names().values()) == [
        "Bradford district and Craven",
        "Calderdale",
        "Harrogate",
        "Kirklees",
        "Leeds",
        "Wakefield",
    ]
    assert list(lsc.place_names()) == [
        "lancashire",
        "blackburn-with-darwen",
        "blackpool",
        "south-cumbria",
    ]
    assert [p.code for p in lsc.priorities][0] == "starting-well"
    assert {p.kind for p in lsc.partners} >= {"nhs-trust", "council", "healthwatch"}
    assert lsc.place_for_postcode_district("LA14") == "south-cumbria"  # Barrow
    assert lsc.place_for_postcode_district("PR1") == "lancashire"  # by its area
    assert lsc.place_for_postcode_district("BB1") is None  # the ICS has still to say
    assert lsc.place_for_postcode_district("LS6") is None  # another ICS's
    assert wyh.place_for_postcode_district("LS29") == "bradford-craven"  # wins over LS
    assert wyh.place_for_postcode_district("LS6") == "leeds"
    for config in (wyh, lsc):
        assert config.small_number_threshold == 5
        assert config.consent_version in config.consent_wordings
        assert [lang.code for lang in config.offered_languages()] == ["en"]
        assert {lang.code for lang in config.offered_languages(True)} == {"en", "ur", "pl"}


def test_a_file_by_path_and_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace("short_name: West Yorkshire and Harrogate", "short_name: Mine"))
    assert ics.load(str(path)).short_name == "Mine"
    with pytest.raises(ics.IcsConfigError) as exc:
        ics.load("north-of-nowhere")
    assert "lancashire-and-south-cumbria" in str(exc.value)  # says what is shipped


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_mistakes_are_refused_naming_each_line() -> None:
    broken = (
        GOOD.replace("postcode_areas: [HX]", "postcode_areas: [HX1]")
        .replace("code: kirklees", "code: Kirklees!")
        .replace("small_number_threshold: 5", "small_number_threshold: 1")
        .replace('current: "2026-11"', 'current: "2030-01"')
        .replace("  area_level: Primary care networks", "  area_level: x\n  colour: blue")
    )
    with pytest.raises(ics.IcsConfigError) as exc:
        ics.parse(broken, "broken.yaml")
    problems = exc.value.problems
    expected = {
        "postcode_areas.0": line_of(broken, "[HX1]"),
        "code": line_of(broken, "Kirklees!"),
        "small_number_threshold": line_of(broken, "small_number_threshold"),
        "consent.current": line_of(broken, 'current: "2030-01"'),
        "colour": line_of(broken, "colour: blue"),
    }
    for path, line in expected.items():
        assert any(p.startswith(f"line {line} (") and path in p for p in problems), (
            path,
            line,
            problems,
        )
    assert str(exc.value).startswith("broken.yaml: line ")


def test_a_postcode_in_two_places_a_key_twice_and_bad_yaml_are_refused() -> None:
    twice = GOOD.replace("postcode_areas: [WF]", "postcode_areas: [WF, LS]")
    with pytest.raises(ics.IcsConfigError) as exc:
        ics.parse(twice)
    assert any("LS is also in leeds" in p for p in exc.value.problems)
    with pytest.raises(ics.IcsConfigError) as exc:
        ics.parse(
            GOOD.replace(
                "  small_number_threshold: 5",
                "  small_number_threshold: 5\n  small_number_threshold: 6",
            )
        )
    assert "given twice" in str(exc.value)
    with pytest.raises(ics.IcsConfigError) as exc:
        ics.parse("ics:\n  code: [unclosed\n")
    assert exc.value.problems[0].startswith("line ")
    with pytest.raises(ics.IcsConfigError):
        ics.parse("something: else\n")


def test_serving_another_configuration_for_a_while() -> None:
    lsc = ics.load("lancashire-and-south-cumbria")
    before = ics.ics()
    with ics.serving(lsc):
        assert ics.ics() is lsc
    assert ics.ics() is before


def test_consent_wording_by_language_with_english_fallback() -> None:
    """One version's wording in several languages (shipped drafts in Urdu and Polish);
    a reader of another language gets the English, and the English is what is stored."""
    config = ics.load("west-yorkshire-and-harrogate")
    version = config.consent_version
    english = config.consent_wordings[version]
    assert english.startswith("I agree")
    assert config.consent_wording(version, "pl")[1] == "pl"
    assert config.consent_wording(version, "pl")[0].startswith("Zgadzam się")
    assert config.consent_wording(version, "ur")[1] == "ur"
    assert config.consent_wording(version, "fr") == (english, "en")
    # A language the ICS does not offer, or no English to fall back to: refused at start.
    unknown = GOOD.replace("        ur: >-\n", "        fr: >-\n", 1)
    no_english = GOOD.replace('"2026-11":\n        en: >-', '"2026-11":\n        cy: >-', 1)
    for broken, needle, why in (
        (unknown, "fr: >-", "is not one of the languages above"),
        (no_english, "cy: >-", "English is what other languages fall back to"),
    ):
        with pytest.raises(ics.IcsConfigError) as exc:
            ics.parse(broken, "broken.yaml")
        assert any(why in p for p in exc.value.problems), exc.value.problems
        assert any(p.startswith(f"line {line_of(broken, needle)} (") for p in exc.value.problems)
