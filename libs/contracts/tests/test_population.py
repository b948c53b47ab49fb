"""Reach against population: the pure rules (groups, postcodes, shares, representativeness,
the groups furthest below their share) and the files an ICS loads, checked by line."""

from __future__ import annotations

import pytest

from engage_contracts import population as pop
from engage_contracts.reference import validate_equality

WYH = ("bradford-craven", "calderdale", "harrogate", "kirklees", "leeds", "wakefield")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("LS6 1AN", ("LS6", "LS6 1AN")),
        ("ls61an", ("LS6", "LS6 1AN")),
        (" bd23  1ab ", ("BD23", "BD23 1AB")),
        ("EC1A 1BB", ("EC1A", "EC1A 1BB")),
        ("W1A 0AX", ("W1A", "W1A 0AX")),
        ("LS6", None),  # a district alone
        ("LS6 1CI", None),  # C and I are never in an inward code
        ("LS6 1A", None),
        ("not a postcode", None),
        ("", None),
    ],
)
def test_a_full_postcode_splits_into_its_district(value: str, expected: object) -> None:
    assert pop.split_postcode(value) == expected
    assert pop.is_full_postcode(value) is (expected is not None)


def test_answers_of_either_question_set_fall_into_census_groups() -> None:
    assert pop.coarse_groups(
        {
            "age_band": "16-24",
            "sex": "female",
            "ethnicity": "asian-pakistani",
            "disability": "yes-not-at-all",
            "unpaid_carer": "yes-10-19",
            "postcode_district": "BD3",
            "imd_decile": 2,
            "religion": "muslim",
        }
    ) == {
        "age_band": "16-24",
        "sex": "female",
        "ethnicity": "asian",
        "disability": "not-limited",
        "unpaid_care": "up-to-19",
        "imd_decile": 2,
    }
    # 2026-01's carer bands, prefer not to say, and nothing at all
    assert pop.coarse_groups({"unpaid_carer": "yes-20-49", "age_band": "prefer-not-to-say"}) == {
        "unpaid_care": "20-49"
    }
    assert pop.coarse_groups({"ethnicity": "other-arab", "disability": "yes-a-lot"}) == {
        "ethnicity": "other",
        "disability": "limited-a-lot",
    }
    assert pop.coarse_groups(None) == {}
    assert pop.group_of("imd_decile", {"imd_decile": 9}) == "9-10"
    assert pop.group_of("imd_decile", {}) == pop.NOT_GIVEN
    assert pop.group_of("sex", {"sex": "male"}) == "male"


def test_equality_answers_take_a_decile_from_1_to_10() -> None:
    clean, errors = validate_equality({"postcode_district": "ls6", "imd_decile": 3})
    assert clean == {"postcode_district": "LS6", "imd_decile": 3} and not errors
    for bad in (0, 11, "3", 2.5, True):
        assert validate_equality({"imd_decile": bad})[1] == {
            "equality.imd_decile": ["must be a whole number from 1 to 10"]
        }
    # a full postcode never reaches a service: it is refused there
    assert "equality.postcode_district" in validate_equality({"postcode_district": "LS6 1AN"})[1]


def test_shares_ratios_and_representativeness() -> None:
    assert pop.shares({"a": 1, "b": 3}) == {"a": 0.25, "b": 0.75}
    assert pop.shares({"a": 0}) == {"a": None}
    assert pop.ratio(0.1, 0.3) == pytest.approx(1 / 3)
    assert pop.ratio(None, 0.3) is None and pop.ratio(0.1, 0) is None
    # rates: a 10/1000, b 40/1000 -> 0.25
    assert pop.representativeness({"a": 10, "b": 40}, {"a": 1000, "b": 1000}) == 0.25
    assert pop.representativeness({"a": 0, "b": 40}, {"a": 1000, "b": 1000}) == 0
    assert pop.representativeness({"a": 0}, {"a": 1000}) is None  # nothing to compare
    assert pop.representativeness({}, {"a": 10, "b": 10}) is None  # nobody heard
    assert pop.population_counts("imd_decile", {"1": 10, "2": 5, "10": 7}) == {
        "1-2": 15,
        "3-4": 0,
        "5-6": 0,
        "7-8": 0,
        "9-10": 7,
    }


def test_the_groups_furthest_below_their_share_in_plain_words() -> None:
    groups = [
        {"dimension": "age_band", "group": "16-24", "ratio": 0.34},
        {"dimension": "imd_decile", "group": "1-2", "ratio": 0.5},
        {"dimension": "sex", "group": "female", "ratio": 1.2},
        {"dimension": "ethnicity", "group": "asian", "ratio": None},
        {"dimension": "unpaid_care", "group": "50-plus", "ratio": 0.0},
    ]
    below = pop.furthest_below(groups, limit=3)
    assert [(b["dimension"], b["group"]) for b in below] == [
        ("unpaid_care", "50-plus"),
        ("age_band", "16-24"),
        ("imd_decile", "1-2"),
    ]
    assert below[1]["sentence"] == "People aged 16 to 24 are at a third of their share."
    assert below[2]["sentence"] == (
        "People in the most deprived areas (deciles 1–2) are at half of their share."
    )
    assert below[0]["sentence"].endswith("are at none of their share.")
    assert pop.fraction_words(0.9) == "90% of"


POPULATION = """# ILLUSTRATIVE figures, not ONS Census 2021 counts
source,place,dimension,group,population
Illustrative,leeds,age_band,16-24,1000
Illustrative,leeds,imd_decile,1,500
"""


def test_a_population_file_loads_or_says_every_bad_line() -> None:
    loaded = pop.read_population(POPULATION, WYH)
    assert not loaded.problems and loaded.source == "Illustrative"
    assert loaded.rows[0] == {
        "source": "Illustrative",
        "place": "leeds",
        "dimension": "age_band",
        "group": "16-24",
        "population": 1000,
    }
    bad = pop.read_population(
        POPULATION
        + "Illustrative,atlantis,age_band,16-24,5\n"
        + "Illustrative,leeds,age_band,16-24,1000\n"
        + "Other,leeds,sex,female,-3\n"
        + "Illustrative,leeds,shoe_size,9,1\n",
        WYH,
    )
    assert bad.rows == []
    assert bad.problems[0] == "line 5: place 'atlantis' is not one of the ICS's places"
    assert bad.problems[1] == "line 6: this place, dimension and group are given twice"
    assert bad.problems[2].startswith("line 7: source differs")
    assert "population '-3' is not a whole number" in bad.problems[2]
    assert bad.problems[3].startswith("line 8: dimension 'shoe_size' is not one of")
    assert pop.read_population("place,group\nleeds,x\n", WYH).problems == [
        "line 1: the header must name source, place, dimension, group, population;"
        " missing source, dimension, population"
    ]
    assert pop.read_population("# nothing\n", WYH).problems == ["the file is empty"]


def test_a_deprivation_file_names_its_edition_and_loads_or_says_every_bad_line() -> None:
    good = "postcode,lsoa,imd_decile,edition\nls61an,E01011229,2,IMD 2025\n"
    loaded = pop.read_deprivation(good)
    assert loaded.source == "IMD 2025" and not loaded.problems
    assert loaded.rows == [{"postcode": "LS6 1AN", "lsoa": "E01011229", "imd_decile": 2}]
    bad = pop.read_deprivation(
        good
        + "LS6 1AN,E01011229,2,IMD 2025\n"
        + "LS6,E01011229,2,IMD 2025\n"
        + "LS6 2AB,X1,11,IMD 2025\n"
        + "LS6 3AB,E01011229,4,IMD 2019\n"
        + "LS6 4AB,E01011229,4,IMD 2015\n"
    )
    assert bad.rows == []
    assert bad.problems == [
        "line 3: postcode LS6 1AN is given twice",
        "line 4: postcode 'LS6' is not a full UK postcode",
        "line 5: lsoa 'X1' is not an LSOA code, like E01011229; "
        "imd_decile '11' is not a whole number from 1 to 10",
        "line 6: edition differs from the first row's ('IMD 2025'): one edition a file",
        "line 7: edition 'IMD 2015' is not one of IMD 2025, IMD 2019",
    ]


def test_the_shipped_illustrative_files_load_for_both_icss() -> None:
    from engage_contracts import ics

    for name in ("west-yorkshire-and-harrogate", "lancashire-and-south-cumbria"):
        config = ics.load(name)
        folder = pop.SHIPPED
        population = pop.read_population(
            (folder / f"{name}-population.csv").read_text(), config.place_names()
        )
        assert not population.problems, population.problems
        assert "ILLUSTRATIVE" in population.source.upper()
        assert {r["place"] for r in population.rows} == set(config.place_names())
        deprivation = pop.read_deprivation((folder / f"{name}-deprivation.csv").read_text())
        assert not deprivation.problems, deprivation.problems
        for row in deprivation.rows:
            district = pop.split_postcode(row["postcode"])[0]
            assert config.place_for_postcode_district(district) in config.place_names()
