"""Demo data for ``./engage up``: a demo admin, an open consultation on ageing well at
home, a closed one on starting well with its "you said, we did" outcome, and community
feedback from several channels, drawn from the partnership strategies in
``shared/seeds``. Safe to run repeatedly: it looks for what it made before and makes
nothing twice.

Usage: ``python -m gateway.demo`` (with AMQP_URI and DATABASE_URL of the gateway).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from engage_common.db import Pool
from engage_common.messaging import DurablePublisher
from engage_contracts import population
from engage_contracts.ics import ics
from engage_contracts.reference import current_consent, places
from engage_contracts.shared import localised
from gateway.application import feedback, reach
from gateway.application.responses import queue_response
from gateway.application.staff import DEMO_TOKEN_LABEL, reissue_labelled
from gateway.config import Settings
from gateway.store import staff as store

ADMIN_EMAIL = "admin@engage.example"


def _options(*labels: str) -> list[dict[str, str]]:
    return [
        {"value": label.lower().replace(" ", "-").replace(",", "")[:40], "label": label}
        for label in labels
    ]


AGEING_WELL = {
    "title": "Ageing well at home: what would help you stay well in your own home?",
    "summary": (
        "We want people to stay well in their own homes, connected to their "
        "communities, with care that is joined up. Tell us what would help."
    ),
    "description": (
        "Across our area, health and care partners are planning how to "
        "support older people to stay happy, healthy and at home. People have told us: "
        "'Listen to me', 'See me as a whole person', and 'Encourage and assist me to use "
        "digital technology but don't let that replace all human contact'. Before we decide "
        "what to do next, we want to hear from people aged 65 and over, from unpaid carers, "
        "and especially from people and communities we too seldom hear from. It takes about "
        "10 minutes. Every question about you is optional."
    ),
    "places": [],  # every configured place: see ageing_well()
    "priorities": ["ageing-well", "living-well"],
    "questionnaire": {
        "questions": [
            {
                "id": "about-you",
                "type": "single_choice",
                "required": True,
                "text": "Which of these best describes you?",
                "options": _options(
                    "I am 65 or over",
                    "I care for someone who is older",
                    "I work in health or care",
                    "None of these",
                ),
            },
            {
                "id": "what-helps",
                "type": "multiple_choice",
                "required": True,
                "max_choices": 3,
                "text": "What would most help you, or the person you care for, stay well at home?",
                "options": _options(
                    "Getting to see a GP or nurse",
                    "Support for unpaid carers",
                    "Care at home instead of hospital",
                    "Groups that tackle loneliness",
                    "Help using digital technology",
                    "Changes to make my home safer",
                    "Help to keep my home warm",
                ),
            },
            {
                "id": "listened-to",
                "type": "likert",
                "required": True,
                "text": "How much do you agree: 'Health and care services listen to me.'",
            },
            {
                "id": "digital-confidence",
                "type": "rating",
                "text": (
                    "How confident are you using online tools, like the NHS App, to manage "
                    "your health? (0 is not at all, 10 is very confident)"
                ),
            },
            {
                "id": "digital-help",
                "type": "single_choice",
                "text": "Would you like someone to help you use online health tools?",
                "options": _options("Yes", "No", "Not sure"),
            },
            {
                "id": "digital-help-kind",
                "type": "free_text",
                "max_length": 1000,
                "text": "What kind of help would suit you?",
                "show_if": {"question": "digital-help", "equals": ["yes"]},
            },
            {
                "id": "what-matters",
                "type": "ranking",
                "text": "Put these in order of how much they matter to you, most important first.",
                "options": _options(
                    "Being seen quickly",
                    "Seeing the same person each time",
                    "Care close to home",
                    "Not having to repeat my story",
                ),
            },
            {
                "id": "anything-else",
                "type": "free_text",
                "max_length": 2000,
                "text": "Is there anything else you want to tell us?",
            },
        ]
    },
}

STARTING_WELL = {
    "title": "Starting well: support for families before and after birth",
    "summary": (
        "We asked families what would give children the best start in life. Here is "
        "what you said and what we are doing."
    ),
    "description": (
        "Giving every child the best start in life is one of our big ambitions, including "
        "halting the trend in childhood obesity and reducing the gap for children in the "
        "lowest-income households. This consultation asked parents, carers and "
        "grandparents what support matters most."
    ),
    "places": [],  # the first two configured places: see starting_well()
    "priorities": ["starting-well"],
    "questionnaire": {
        "questions": [
            {
                "id": "support-needed",
                "type": "multiple_choice",
                "required": True,
                "text": "Which support would have helped your family most?",
                "options": _options(
                    "Health visitor visits at home",
                    "Breastfeeding support",
                    "Mental health support for parents",
                    "Help with money and food",
                    "Stay and play groups",
                ),
            },
            {
                "id": "easy-to-find",
                "type": "likert",
                "required": True,
                "text": (
                    "How much do you agree: 'It was easy to find out what support was available.'"
                ),
            },
            {
                "id": "your-story",
                "type": "free_text",
                "max_length": 2000,
                "text": "Tell us about your experience.",
            },
        ]
    },
}

STARTING_WELL_OUTCOME = {
    "summary": (
        "Over a third of families told us mental health support for parents was "
        "hard to find. We are changing how we tell families about it, and adding "
        "evening stay and play sessions in Huddersfield and Halifax."
    ),
    "decisions": [
        {
            "you_said": "It was hard to find out what support was available.",
            "we_did": "Every family now gets one printed and online guide at their first "
            "health visitor appointment, in the five most-spoken local languages.",
            "status": "done",
        },
        {
            "you_said": "Parents need mental health support, especially in the first year.",
            "we_did": "Perinatal mental health drop-ins are starting in family hubs.",
            "status": "in-progress",
        },
        {
            "you_said": "Groups only run in the daytime, when working parents can't come.",
            "we_did": "Evening stay and play sessions will start in Huddersfield and Halifax.",
            "status": "planned",
        },
        {
            "you_said": "Bring back the baby clinic in every GP surgery.",
            "we_did": "We looked at this carefully but are not taking it forward.",
            "status": "not-taken-forward",
            "reason": "There are not enough health visitors to staff every surgery; the family "
            "hubs are open longer hours and are on bus routes.",
        },
    ],
}


def _find(surveys: Any, title: str) -> dict[str, Any] | None:
    return next((c for c in surveys.list_consultations({}) if localised(c["title"]) == title), None)


def _sample_answers(rng: random.Random) -> dict[str, Any]:
    return {
        "support-needed": rng.sample(
            [
                "health-visitor-visits-at-home",
                "breastfeeding-support",
                "mental-health-support-for-parents",
                "help-with-money-and-food",
                "stay-and-play-groups",
            ],
            k=rng.randint(1, 3),
        ),
        "easy-to-find": rng.choice(
            ["strongly-agree", "agree", "neither", "disagree", "disagree", "strongly-disagree"]
        ),
        "your-story": rng.choice(
            [
                "",
                "The health visitor was brilliant.",
                "I didn't know the groups existed until my baby was 8 months.",
                "Evening sessions would help as we both work.",
            ]
        ),
    }


def ageing_well() -> dict[str, Any]:
    """The open demo consultation, for every place the ICS configures."""
    return {**AGEING_WELL, "places": list(places())}


def starting_well() -> dict[str, Any]:
    """The closed demo consultation, for the ICS's first two places."""
    return {**STARTING_WELL, "places": list(places())[:2]}


def _districts() -> list[str]:
    """Postcode districts in the demo's places (from the configuration), and one outside."""
    config = ics()
    chosen = starting_well()["places"]
    found = [d for p in config.places if p.code in chosen for d in p.postcode_districts]
    found += [f"{a}1" for p in config.places if p.code in chosen for a in p.postcode_areas]
    return [*found[:5], "M1"] if found else ["M1"]


def _full_postcodes() -> list[str]:
    """Full postcodes in the shipped ILLUSTRATIVE lookup of this ICS (none for another)."""
    path = population.SHIPPED / f"{ics().code}-deprivation.csv"
    if not path.exists():
        return []
    return [row["postcode"] for row in population.read_deprivation(path.read_text()).rows]


def load_reference_files(pool: Pool) -> list[str]:
    """The shipped ILLUSTRATIVE population profiles and IMD lookup of this ICS (made-up
    numbers, not ONS figures), so the reach view has something to compare with."""
    loaded = []
    for kind, loader in (
        ("population", reach.load_population),
        ("deprivation", reach.load_deprivation),
    ):
        path = population.SHIPPED / f"{ics().code}-{kind}.csv"
        if path.exists():
            loaded.append(f"{kind}: {loader(pool, path.read_text())['source']}")
    return loaded


def _sample_equality(rng: random.Random) -> dict[str, str]:
    # Some residents give their full postcode: the gateway keeps its district and decile.
    postcodes = _districts() + _full_postcodes()
    return {
        "age_band": rng.choice(["16-24", "25-34", "25-34", "35-44", "prefer-not-to-say"]),
        "ethnicity": rng.choice(
            [
                "white-british",
                "asian-pakistani",
                "asian-indian",
                "black-african",
                "mixed-white-asian",
                "prefer-not-to-say",
            ]
        ),
        "postcode_district": rng.choice(postcodes),
        "sex": rng.choice(["female", "female", "male", "prefer-not-to-say"]),
        "disability": rng.choice(["no", "no", "yes-a-little", "yes-a-lot"]),
        "unpaid_carer": rng.choice(["no", "no", "yes-up-to-9", "yes-20-34", "prefer-not-to-say"]),
        "conditions": rng.choice([["none"], ["mental-health"], ["autism", "mental-health"]]),
    }


# Feedback as it reaches an ICS: online, by phone, at an event, from Healthwatch; the
# words are the kind the partnership strategies quote. (channel, kind, about, text, place)
DEMO_FEEDBACK = [
    ("online", "concern", "GP appointments",
     "I rang at 8am every day for a week and could not get a GP appointment. "
     "Listen to me: I am not a nuisance, I am worried about my dad.", "leeds"),
    ("online", "compliment", "District nurses",
     "The district nurses who visit my mum are kind and never rush her. Thank you.", "wakefield"),
    ("phone", "experience-of-care", "Hospital discharge",
     "My husband was sent home on a Friday night with no care in place. As his carer "
     "nobody asked me if I could cope.", "bradford-craven"),
    ("event", "idea", "Young people's mental health",
     "Young people at the youth club said they would talk to someone in a drop-in at "
     "school sooner than ring a number.", "kirklees"),
    ("healthwatch", "concern", "Interpreters",
     "A family needed an interpreter for their child's appointment and were told to "
     "bring a relative instead.", "calderdale"),
    ("letter", "concern", "Online booking",
     "I do not use the internet. Please do not make the app the only way to book.", "harrogate"),
    ("online", "question", "Learning disability annual health checks",
     "How do I get an annual health check for my son, who has a learning disability "
     "and autism?", "leeds"),
    ("event", "compliment", "Community pharmacy",
     "The pharmacist explained my new tablets properly and checked I understood.", "wakefield"),
]  # fmt: skip


def load_feedback(settings: Settings, staff: dict[str, Any]) -> int:
    """Queue the demo feedback; each under a fixed key, so loading it again stores nothing
    twice. Staff-entered items are the demo admin's."""
    publisher = DurablePublisher(settings.amqp_uri)
    consent = {"given": True, "version": current_consent("feedback")["version"]}
    known = places()
    for n, (channel, kind, about, text, place) in enumerate(DEMO_FEEDBACK, start=1):
        sent = {
            "kind": kind,
            "about": about,
            "text": text,
            "place": place if place in known else None,
            "consent": consent,
            "may_quote": n % 2 == 0,
            "reply_by": "none",
        }
        online = channel == "online"
        entered = None if online else {"staff_id": staff["id"], "name": staff["name"]}
        feedback.queue(
            publisher,
            feedback.message(
                settings.secret_key,
                feedback.checked(sent),
                channel,
                f"demo-feedback-{n}" if online else None,
                entered,
                None if online else f"demo-feedback-{n}",
            ),
        )
    return len(DEMO_FEEDBACK)


DEMO_EVENT = {
    "kind": "drop-in",
    "title": {"en": "Ageing well at home: come and talk to us"},
    "description": {
        "en": "Tell us what would help you stay well in your own home. Tea and biscuits; "
        "carers welcome. You can also answer the consultation on paper here."
    },
    "venue": {
        "name": "Community centre",
        "address": "High Street",
        "features": ["step-free-access", "hearing-loop", "accessible-toilet", "public-transport"],
    },
    "capacity": 30,
    "priorities": ["ageing-well"],
}


def load_event(settings: Settings, rpc: Any, admin: dict[str, Any]) -> str | None:
    """An upcoming drop-in (two weeks away, 10:00 to 12:00 UK time), once."""
    listed = rpc.events.staff_list_events({"include_drafts": True})["events"]
    if any(e["title"].get("en") == DEMO_EVENT["title"]["en"] for e in listed):
        return None
    day = (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%d")
    actor = {"staff_id": admin["id"], "name": admin["name"], "role": "admin"}
    known = places()
    event = rpc.events.create_event(
        {
            **DEMO_EVENT,
            "place": next(iter(known), None),
            "starts_local": f"{day}T10:00",
            "ends_local": f"{day}T12:00",
        },
        actor,
    )
    rpc.events.publish_event(event["id"], actor)
    return event["id"]


AGEING_WELL_EASY_READ = {
    "points": [
        {
            "text": {
                "en": "We want older people to stay well at home.",
                "ur": "ہم چاہتے ہیں کہ بزرگ اپنے گھر میں صحت مند رہیں۔",
                "pl": "Chcemy, aby starsi ludzie dobrze czuli się w domu.",
            },
            "picture": "house",
        },
        {
            "text": {
                "en": "Tell us what would help you.",
                "ur": "ہمیں بتائیں کہ آپ کی کیا مدد ہو گی۔",
                "pl": "Powiedz nam, co by ci pomogło.",
            },
            "picture": "people",
        },
        {"text": "It takes about 10 minutes."},
        {"text": "You do not have to answer the questions about you."},
    ],
    "questions": [
        {"id": "what-helps", "text": "What would help you stay well at home?"},
        {
            "id": "listened-to",
            "text": "Do health and care staff listen to you?",
            "options": [
                {"value": "strongly-agree", "label": "Yes, always"},
                {"value": "agree", "label": "Yes, most of the time"},
                {"value": "neither", "label": "Sometimes"},
                {"value": "disagree", "label": "No, not often"},
                {"value": "strongly-disagree", "label": "No, never"},
            ],
        },
        {"id": "anything-else", "text": "Is there anything else you want to tell us?"},
    ],
}
EASY_READ_ALT = {
    "house": {"en": "A house", "ur": "ایک گھر", "pl": "Dom"},
    "people": {
        "en": "Two people talking",
        "ur": "دو لوگ بات کر رہے ہیں",
        "pl": "Dwie osoby rozmawiają",
    },
}


def easy_read_picture(name: str) -> bytes:
    """A small PNG drawn with Pillow for the demo's easy-read points."""
    import io

    from PIL import Image, ImageDraw

    picture = Image.new("P", (96, 96), 255)
    picture.putpalette([0, 94, 184, 255, 235, 59, 33, 43, 50] + [255] * 759)
    draw = ImageDraw.Draw(picture)
    if name == "house":
        draw.polygon([(12, 46), (48, 12), (84, 46)], fill=2)
        draw.rectangle([20, 46, 76, 86], fill=0)
        draw.rectangle([42, 60, 54, 86], fill=1)
    else:
        draw.rounded_rectangle([30, 2, 66, 20], radius=6, fill=1)  # what they say
        draw.polygon([(42, 20), (50, 20), (40, 28)], fill=1)
        for x in (26, 70):
            draw.ellipse([x - 11, 30, x + 11, 52], fill=0)
            draw.rounded_rectangle([x - 17, 56, x + 17, 94], radius=8, fill=0)
    out = io.BytesIO()
    picture.save(out, "PNG", optimize=True)
    return out.getvalue()


def load_easy_read(surveys: Any, consultation_id: str) -> None:
    """Give the ageing-well consultation its easy-read version, once."""
    import base64

    if surveys.get_consultation(consultation_id).get("easy_read"):
        return
    sha = {
        name: surveys.upload_easy_read_image(
            consultation_id,
            {"data": base64.b64encode(easy_read_picture(name)).decode(), "alt": alt},
        )["sha256"]
        for name, alt in EASY_READ_ALT.items()
    }
    points = [
        {"text": p["text"], **({"image": sha[p["picture"]]} if "picture" in p else {})}
        for p in AGEING_WELL_EASY_READ["points"]
    ]
    surveys.set_easy_read(
        consultation_id, {"points": points, "questions": AGEING_WELL_EASY_READ["questions"]}
    )


def load(settings: Settings, responses: int = 40) -> dict[str, Any]:
    config = {"AMQP_URI": settings.amqp_uri}
    made: dict[str, Any] = {}
    pool = Pool(settings.database_url, size=1)
    made["reference_files"] = load_reference_files(pool)
    with ClusterRpcProxy(config, timeout=30) as rpc:
        surveys = rpc.surveys
        now = datetime.now(UTC)
        if _find(surveys, AGEING_WELL["title"]) is None:
            c = surveys.create_consultation(
                {
                    **ageing_well(),
                    "opens_at": (now - timedelta(days=3)).isoformat(),
                    "closes_at": (now + timedelta(days=60)).isoformat(),
                }
            )
            surveys.open_consultation(c["id"])
            made["ageing_well"] = c["id"]
        ageing = _find(surveys, AGEING_WELL["title"])
        if ageing is not None and ageing["status"] != "closed":
            load_easy_read(surveys, ageing["id"])
        if _find(surveys, STARTING_WELL["title"]) is None:
            c = surveys.create_consultation(
                {
                    **starting_well(),
                    "opens_at": (now - timedelta(days=45)).isoformat(),
                    "closes_at": (now + timedelta(days=1)).isoformat(),
                }
            )
            surveys.open_consultation(c["id"])
            publisher = DurablePublisher(settings.amqp_uri)
            rng = random.Random(2024)
            for _ in range(responses):
                sub = reach.locate_submission(
                    pool,
                    {
                        "answers": _sample_answers(rng),
                        "equality": _sample_equality(rng),
                        "consent": {"given": True, "version": c["consent"]["version"]},
                    },
                )
                cleaned = surveys.validate_submission(c["id"], sub)
                queue_response(settings.secret_key, publisher, c["id"], cleaned, None, "online")
            deadline = time.monotonic() + 60
            while surveys.get_consultation(c["id"])["response_count"] < responses:
                if time.monotonic() > deadline:
                    raise RuntimeError("demo responses were not stored within 60 s")
                time.sleep(0.2)
            surveys.close_consultation(c["id"])
            surveys.publish_outcome(c["id"], STARTING_WELL_OUTCOME)
            made["starting_well"] = c["id"]
    with pool.connection() as conn:
        admin = store.staff_by_email(conn, ADMIN_EMAIL) or store.create_staff(
            conn, ADMIN_EMAIL, "Demo Admin", "admin"
        )
        # The previous run's demo token stops working: tokens do not pile up.
        token, _ = reissue_labelled(conn, admin["id"], DEMO_TOKEN_LABEL, settings.token_ttl_days)
    pool.close()
    made["admin_token"] = token
    made["feedback"] = load_feedback(settings, admin)
    with ClusterRpcProxy(config, timeout=30) as rpc:
        event = load_event(settings, rpc, admin)
    if event:
        made["event"] = event
    return made


def main() -> None:
    settings = Settings.from_env()
    made = load(settings)
    for key in ("ageing_well", "starting_well"):
        if key in made:
            print(f"[engage] demo consultation loaded: {key} ({made[key]})")
    for loaded in made["reference_files"]:
        print(f"[engage] ILLUSTRATIVE reference data loaded (not ONS figures), {loaded}")
    print(f"[engage] demo feedback queued: {made['feedback']} items (stored once)")
    if "event" in made:
        print(f"[engage] demo engagement event loaded ({made['event']})")
    print(f"[engage] staff API token for the demo admin ({ADMIN_EMAIL}), role admin:")
    print(f"[engage]   {made['admin_token']}")
    print(
        "[engage]   e.g. curl -H 'Authorization: Bearer <token>' "
        f"{settings.public_url}/api/v1/staff/consultations"
    )


if __name__ == "__main__":
    main()
