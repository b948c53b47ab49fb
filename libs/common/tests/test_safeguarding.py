"""A person at risk is raised, in the first or the third person; idioms and the topic on
its own are not."""

from __future__ import annotations

import pytest

from engage_common.safeguarding import CATEGORIES, Concern, assess

RAISED = [
    # (text, categories, urgent)
    ("I want to end my life", ["suicide"], True),
    ("I've been thinking about killing myself", ["suicide"], True),
    ("I feel suicidal most days and the GP won't see me", ["suicide"], True),
    ("Some days I wish I was dead", ["suicide"], True),
    ("my daughter tried to take her own life last week", ["suicide"], True),
    ("I attempted suicide last year and waited months for help", ["suicide"], True),
    ("Honestly I don't want to be here anymore", ["suicide"], True),
    ("I’m not suicidal, but I'm struggling", ["suicide"], True),
    ("I cut myself", ["self-harm"], True),
    ("My son has been self-harming since March", ["self-harm"], True),
    ("I want to hurt myself when it gets like this", ["self-harm"], True),
    ("I took an overdose on Friday", ["self-harm"], True),
    ("She swallowed a packet of paracetamol", ["self-harm"], True),
    ("he hits me", ["abuse"], False),
    ("My husband hits me when he drinks", ["abuse"], False),
    ("my carer takes my money", ["abuse"], False),
    ("My brother keeps taking my pension", ["abuse"], False),
    ("he won't let me leave the house", ["abuse"], False),
    ("I'm scared of my husband", ["abuse"], False),
    ("I was sexually assaulted and nobody asked", ["abuse"], False),
    ("I'm in an abusive relationship", ["abuse"], False),
    ("she hasn't been fed for days", ["neglect"], False),
    ("Mum was left in soiled sheets all night", ["neglect"], False),
    ("Dad hasn't eaten for three days and nobody checks on him", ["neglect"], False),
    ("She was left on the floor for hours after her fall", ["neglect"], False),
    ("He wasn't given his insulin for two days", ["neglect"], False),
    ("I'm not safe at home", ["immediate-danger"], True),
    ("I don't feel safe with him", ["immediate-danger"], True),
    ("He's got a knife", ["immediate-danger"], True),
    ("My mum is in danger", ["immediate-danger"], True),
    ("He said he'll kill me if I tell anyone", ["immediate-danger"], True),
    ("there's a man threatening me with a knife", ["abuse", "immediate-danger"], True),
    ("he threatened to kill me and I still go home to him", ["immediate-danger"], True),
]

NOT_RAISED = [
    "I'm dying to see the new clinic",
    "the wait killed my afternoon",
    "this queue is killing me",
    "I could murder a cup of tea",
    "the staff were brilliant, I'd kill for a GP like that",
    "my phone died",
    "dead easy to book",
    "suicide prevention training for staff is a good idea",
    "We need better self-harm support for young people",
    "Domestic abuse services need more funding",
    "I nearly killed myself laughing at the panto",
    "my feet were killing me after the walk",
    "my back is killing me",
    "She beat me to it and booked first",
    "My mum will kill me when she sees the bill",
    "I was hit by a car last year and the physio was great",
    "The receptionist wouldn't let me see a doctor",
    "I haven't had a reply for weeks",
    "The nurse pushed me in a wheelchair to the ward",
    "I hurt myself when I fell in the car park",
    "The car park is not safe at night",
    "The doctor took my blood pressure and it was fine",
    "The parking machine took my money and gave no ticket",
]


@pytest.mark.parametrize(("text", "categories", "urgent"), RAISED, ids=[t for t, *_ in RAISED])
def test_risk_is_raised(text: str, categories: list[str], urgent: bool) -> None:
    concern = assess(text)
    assert concern.categories == categories
    assert concern.urgent is urgent
    assert concern.raised
    assert concern.matches and all(m in text for m in concern.matches)


@pytest.mark.parametrize("text", NOT_RAISED)
def test_idioms_and_topics_are_not_raised(text: str) -> None:
    assert assess(text) == Concern(urgent=False, categories=[], matches=[])


def test_matches_show_staff_why_in_the_order_written() -> None:
    concern = assess("My partner hits me. Last night I took an overdose.")
    assert concern.matches == ["My partner hits me", "took an overdose"]
    assert concern.categories == ["self-harm", "abuse"]  # in CATEGORIES' order
    assert set(concern.categories) <= set(CATEGORIES)
    assert concern.urgent
