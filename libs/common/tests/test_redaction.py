"""Personal details come out of free text; times, wards, references and counts stay."""

from __future__ import annotations

import time
from collections.abc import Callable

import eventlet
import pytest
from nameko.containers import ServiceContainer
from nameko.testing.services import dummy, entrypoint_hook

from engage_common import recognizers, redaction
from engage_common.redaction import (
    REDACTOR_VERSION,
    Finding,
    Redaction,
    Redactor,
    nhs_number_is_valid,
    redact,
    redact_all,
    redact_off_hub,
)

EMAIL = "[email address removed]"
PHONE = "[phone number removed]"
NHS = "[NHS number removed]"
POSTCODE = "[postcode removed]"
DOB = "[date of birth removed]"
NAME = "[name removed]"

EXAMPLES = [
    # email addresses
    ("Please reply to jane.smith@example.org.", f"Please reply to {EMAIL}."),
    ("My son (tom_b+nhs@mail.co.uk) booked it", f"My son ({EMAIL}) booked it"),
    # UK phone numbers
    ("Ring me on 0113 496 0000 after 5", f"Ring me on {PHONE} after 5"),
    ("Mobile 07700 900123 or 07700900123", f"Mobile {PHONE} or {PHONE}"),
    ("call (0113) 496 0000 please", f"call {PHONE} please"),
    ("My number is +44 7700 900123", f"My number is {PHONE}"),
    ("landline +44 (0)20 7946 0958", f"landline {PHONE}"),
    ("text 0300-123-4567 for the clinic", f"text {PHONE} for the clinic"),
    # NHS numbers: only those that pass the modulus-11 check
    ("My NHS number is 943 476 5919", f"My NHS number is {NHS}"),
    ("NHS no. 943-476-5919", f"NHS no. {NHS}"),
    ("9434765919 is on my letter", f"{NHS} is on my letter"),
    ("the number 1234567890 on the form", "the number 1234567890 on the form"),
    ("943 476 5918 is one digit out", "943 476 5918 is one digit out"),
    # full postcodes, not districts
    ("I live at LS1 4AP near the station", f"I live at {POSTCODE} near the station"),
    ("postcode bd231ab", f"postcode {POSTCODE}"),
    ("We're in LS6 and the bus is fine", "We're in LS6 and the bus is fine"),
    ("on floor B2 2nd, then at 2pm in clinic 3", "on floor B2 2nd, then at 2pm in clinic 3"),
    # dates of birth, only with a birth cue
    ("I was born on 3 March 1984 in Leeds", f"I was born on {DOB} in Leeds"),
    ("DOB 03/03/1984", f"DOB {DOB}"),
    ("date of birth: 3.3.84", f"date of birth: {DOB}"),
    ("my birthday is the 3rd of March", f"my birthday is the {DOB}"),
    ("Mum was born March 12, 1950", f"Mum was born {DOB}"),
    ("the appointment on 3 March was cancelled", "the appointment on 3 March was cancelled"),
    ("seen 03/03/2025 and again 10.3.25", "seen 03/03/2025 and again 10.3.25"),
    # names, where a cue gives them
    ("Hello, my name is Jane Smith.", f"Hello, my name is {NAME}."),
    ("I'm called Jane and I use the clinic", f"I'm called {NAME} and I use the clinic"),
    ("I am Jane Smith, a carer", f"I am {NAME}, a carer"),
    ("Dr Patel was kind", f"Dr {NAME} was kind"),
    ("Mrs Jones on reception and Mr A. Khan", f"Mrs {NAME} on reception and Mr {NAME}"),
    ("Nurse Sarah sorted it", f"Nurse {NAME} sorted it"),
    ("Dr. O'Brien-Smith and Mrs McDonald", f"Dr. {NAME} and Mrs {NAME}"),
    ("the nurse was called Sarah", f"the nurse was called {NAME}"),
    ("My name is Will Jones", f"My name is {NAME}"),
    ("I am Happy with the service", "I am Happy with the service"),
    ("I am Very Pleased With It", "I am Very Pleased With It"),
    (
        "I saw the Nurse Practitioner, not Doctor Who",
        "I saw the Nurse Practitioner, not Doctor Who",
    ),  # fmt: skip
    ("I called NHS 111 twice", "I called NHS 111 twice"),
    # numbers that are not personal details
    ("Seen at 10:30, then 10.30am on ward 22", "Seen at 10:30, then 10.30am on ward 22"),
    ("clinic 4, room 12, bay 3", "clinic 4, room 12, bay 3"),
    ("reference 1234567, case 12345678", "reference 1234567, case 12345678"),
    ("in 2025 there were 3000 people waiting", "in 2025 there were 3000 people waiting"),
    ("I waited 45 minutes, 2019-2023 was worse", "I waited 45 minutes, 2019-2023 was worse"),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_redaction(text: str, expected: str) -> None:
    assert redact(text).text == expected


def test_findings_point_into_the_original_text() -> None:
    text = "I'm Jane Smith, jane@example.org, 07700 900123, LS1 4AP, NHS 943 476 5919."
    result = redact(text)
    assert [(f.kind, text[f.start : f.end]) for f in result.found] == [
        ("name", "Jane Smith"),
        ("email", "jane@example.org"),
        ("phone", "07700 900123"),
        ("postcode", "LS1 4AP"),
        ("nhs_number", "943 476 5919"),
    ]
    assert result.found[1] == Finding("email", 16, 32, "[email address removed]")
    assert result.version == REDACTOR_VERSION
    assert redact("Nothing personal here.").found == []


def test_text_without_a_digit_an_at_or_a_cue_skips_the_analyzer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The screen is the only thing between such text and the recognizers: with the
    analyzer unusable, it must still come back as it was, and text with any trigger must
    still reach the analyzer."""

    def unusable() -> None:
        raise AssertionError("the analyzer ran")

    monkeypatch.setattr(redaction, "analyzer", unusable)
    plain = "The staff were kind and explained everything to my mum, thank you."
    assert redact(plain) == Redaction(plain, [])
    for text in ("room 4", "me@here", "my NAME", "she was Called", "I'm", "i am", "dr"):
        with pytest.raises(AssertionError, match="the analyzer ran"):
            redact(f"so {text} then")


def test_every_recognizer_is_one_the_screen_was_written_for() -> None:
    """A recognizer added without a trigger the screen knows would never see most text."""
    names = {r.name for r in recognizers.analyzer().registry.recognizers}
    assert names == redaction.SCREENED


def test_every_example_with_a_finding_passes_the_screen() -> None:
    found = [text for text, expected in EXAMPLES if text != expected]
    assert found and all(redaction.SCREEN.search(text) for text in found)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("9434765919", True), ("4010232137", True), ("1234567890", False), ("0000000000", False)],
)
def test_the_nhs_number_check_digit(digits: str, valid: bool) -> None:
    assert nhs_number_is_valid(digits) is valid


BATCH = [t for t, _ in EXAMPLES] * 40


def test_a_batch_redacted_off_the_hub_leaves_other_greenthreads_running() -> None:
    """A greenthread ticks every 10 ms while a batch is redacted. Off the hub it keeps
    ticking; redacting the same batch on the hub freezes it, which shows the batch is
    long enough for the difference to be seen (about a third of a second here)."""
    assert eventlet.patcher.is_monkey_patched("thread")
    redact("warm up: my name is Jane")

    def ticks_while(work: Callable[[list[str]], list[Redaction]]) -> tuple[int, float]:
        ticks: list[float] = []
        running = True

        def ticker() -> None:
            while running:
                ticks.append(time.monotonic())
                eventlet.sleep(0.01)

        thread = eventlet.spawn(ticker)
        eventlet.sleep(0)
        started = time.monotonic()
        results = work(BATCH)
        finished = time.monotonic()
        running = False
        thread.wait()
        assert len(results) == len(BATCH)
        return len([t for t in ticks if started < t < finished]), finished - started

    on_hub, on_hub_seconds = ticks_while(redact_all)
    off_hub, off_hub_seconds = ticks_while(redact_off_hub)
    assert on_hub == 0, f"{on_hub} ticks while the hub was busy for {on_hub_seconds:.2f}s"
    assert off_hub >= max(3, off_hub_seconds / 0.01 / 4), (
        f"only {off_hub} ticks in {off_hub_seconds:.2f}s off the hub"
    )
    assert redact_off_hub(BATCH[:3]) == [redact(t) for t in BATCH[:3]]


class WithRedactor:
    name = "with_redactor"
    redact = Redactor()

    @dummy
    def redact_these(self, texts: list[str]) -> list[Redaction]:
        return self.redact(texts)


def test_a_service_builds_the_redactor_as_it_starts_not_on_its_first_text() -> None:
    """Built on the first text that needed it, it held up the service's other calls for
    the two seconds Presidio and spaCy take to load."""
    recognizers.analyzer.cache_clear()
    container = ServiceContainer(WithRedactor, config={})
    container.start()
    try:
        assert recognizers.analyzer.cache_info().currsize == 1
        with entrypoint_hook(container, "redact_these") as redact_these:
            assert redact_these(["Ring 07700 900123"]) == [redact("Ring 07700 900123")]
    finally:
        container.stop()
