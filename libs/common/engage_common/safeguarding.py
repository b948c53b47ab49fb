"""Spot free text that may mean someone is at risk, so staff see it first.

``assess(text)`` returns a ``Concern``: the categories found (suicide, self-harm, abuse,
neglect, immediate-danger), whether it is urgent, and the phrases that matched, to show
staff why it was raised. Staff decide what to do, by the ICS's safeguarding route; this
only puts the response in front of them.

What counts is a person at risk, in the first or the third person: "I want to end my
life", "my son has been cutting himself", "he hits me", "my carer takes my money", "she
hasn't been fed for days", "I'm not safe at home". The topic on its own is not a concern:
"suicide prevention training for staff is a good idea" or "domestic abuse services need
funding" names no one at risk, and a flag that fires on every mention of a topic teaches
staff to ignore it. Idioms are not concerns ("I'm dying to see the new clinic", "this
queue is killing me", "I could murder a cup of tea", "I'd kill for a GP like that", "I
nearly killed myself laughing"): the patterns name who is hurt and how, rather than
looking for alarming words. Beyond that it errs on the side of a human look: a negation
("I'm not suicidal, but...") is still raised, and so is an accident a phrase cannot tell
from harm ("I cut myself").

Urgent means someone may come to serious harm now (suicide, self-harm, immediate danger):
call today. Abuse and neglect go to the safeguarding route in its usual time unless the
same text also says one of those.

Pattern-based, English only, with no model to download; text in another language (see
``engage_common.language``) needs a person who reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CATEGORIES = ("suicide", "self-harm", "abuse", "neglect", "immediate-danger")
URGENT = frozenset({"suicide", "self-harm", "immediate-danger"})


@dataclass(frozen=True)
class Concern:
    urgent: bool = False
    categories: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)

    @property
    def raised(self) -> bool:
        return bool(self.categories)


PERSON = (
    r"(?:husband|wife|partner|boyfriend|girlfriend|ex|ex-partner|ex-husband|ex-wife"
    r"|dad|father|step-?dad|step-?father|mum|mom|mother|step-?mum|step-?mother"
    r"|son|daughter|brother|sister|uncle|aunt|auntie|grandson|granddaughter|grandad"
    r"|grandfather|grandma|grandmother|nan|cousin|carer|care\s+worker|support\s+worker"
    r"|neighbour|landlord|flatmate|housemate|family|child|children|kids|baby|friend)"
)
SUBSTITUTIONS = {
    "<SELF>": r"(?:myself|himself|herself|themselves|themself|ourselves)",
    "<POSS>": r"(?:my|his|her|their|our)",
    # Who does it: a person, never "the queue" or "the wait".
    "<WHO>": (
        rf"\b(?:he|she|they|someone|somebody|(?:a|this|that|the)\s+(?:man|woman|guy)"
        rf"|(?:my|his|her|their|our)\s+{PERSON})(?:'(?:s|ll|d|ve|re))?(?:\s+\w+){{0,3}}?"
    ),
    # Who it is done to.
    "<OBJ>": rf"(?:me|us|him|her|them|(?:my|his|her|their|our)\s+{PERSON})\b",
    "<PERSON>": PERSON,
    "<NOT>": r"(?:hasn'?t|haven'?t|hadn'?t|isn'?t|wasn'?t|weren'?t|aren'?t|has\s+not"
    r"|have\s+not|had\s+not|is\s+not|was\s+not|not|never)",
    "<LONG>": r"(?:for|in)\s+(?:(?:over|nearly|almost|about|two|three|four|five|several"
    r"|a\s+few|many|\d+)\s+)?(?:days|weeks|hours|a\s+day|a\s+week|the\s+night)\b",
    # Campaigns, services, statistics: the topic, not a person.
    "<NOT_TOPIC>": r"(?!\s+(?:prevention|awareness|training|rates?|statistics|strategy"
    r"|services?|support|charit(?:y|ies)|helplines?|team|policy|research|figures))",
    "'": "['’]",
}

PATTERNS: dict[str, list[str]] = {
    "suicide": [
        r"\b(?:kill|kills|killing|killed|hang|hangs|hanging|hanged)\s+<SELF>\b"
        r"(?!\s+(?:laughing|with\s+laughter))",
        r"\b(?:end|ends|ending|ended|take|takes|taking|took|taken)\s+<POSS>\s+(?:own\s+)?life\b"
        r"(?!\s+savings)",
        r"\b(?:end|ending)\s+it\s+all\b",
        r"\bsuicidal\b",
        r"\b(?:attempt|attempts|attempted|attempting|tried|try|trying|commit|committed"
        r"|think(?:ing)?\s+(?:about|of)|thought\s+(?:about|of)|thoughts\s+(?:about|of)"
        r"|consider|considering|considered|contemplating|planning|planned)\s+"
        r"(?:to\s+)?(?:commit\s+)?suicide\b<NOT_TOPIC>",
        r"\b<POSS>\s+(?:suicide\s+attempts?|attempts?\s+(?:at|on)\s+<POSS>\s+(?:own\s+)?life)\b",
        r"\b(?:want|wants|wanted|wanting|wish|wishes|wished|ready)\s+to\s+die\b",
        r"\bwish(?:es|ed)?\s+(?:i|he|she|they)\s+(?:was|were|(?:could|would)\s+(?:just\s+)?)"
        r"\s*(?:dead|die)\b",
        r"\bbetter\s+off\s+dead\b",
        r"\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:living|live|going\s+on)\b",
        r"\bnothing\s+(?:left\s+)?to\s+live\s+for\b",
        r"\b(?:don'?t|doesn'?t|didn'?t|not)\s+want\s+to\s+(?:live|be\s+alive"
        r"|be\s+here\s+any\s*more|wake\s+up|go\s+on\s+living)\b",
    ],
    "self-harm": [
        r"\b(?:cut|cuts|cutting|harm|harms|harmed|harming|starve|starves|starved|starving)"
        r"\s+<SELF>\b",
        r"\b(?:want|wants|wanted|wanting|urges?|going|tried|try|trying|started|keep|keeps"
        r"|kept|been)\s+(?:to\s+)?(?:hurt|hurting|harm|harming|cut|cutting|burn|burning)"
        r"\s+<SELF>\b",
        r"\bself[\s-]?harm(?:s|ed|ing)\b",
        r"\b(?:<POSS>|i|he|she|they)\s+(?:\w+\s+){0,3}?self[\s-]?harm\b<NOT_TOPIC>",
        r"\b(?:took|take|takes|taken|taking|had|done)\s+(?:an?\s+|another\s+)?overdose\b",
        r"\boverdosed\b",
        r"\bod'?d\b",
        r"\b(?:took|swallowed|taken|taking)\s+(?:all\s+(?:of\s+)?<POSS>"
        r"|a\s+(?:whole\s+)?(?:handful|packet|box|bottle)\s+of)"
        r"\s+(?:pills|tablets|paracetamol|painkillers|sleeping\s+(?:pills|tablets))\b",
    ],
    "abuse": [
        r"<WHO>\s+(?:hits?|hitting|beats?|beating|punch(?:es|ed|ing)|kick(?:s|ed|ing)"
        r"|slap(?:s|ped|ping)|chok(?:es|ed|ing)|strangl(?:es|ed|ing)|throttl(?:es|ed|ing)"
        r"|smack(?:s|ed|ing)|thump(?:s|ed|ing)|bit|bites|biting|hurts|hurting"
        r"|abus(?:es|ed|ing)|rap(?:es|ed|ing)|attack(?:s|ed|ing)|assault(?:s|ed|ing)"
        r"|molest(?:s|ed|ing)|groom(?:s|ed|ing))\s+<OBJ>(?!\s+(?:to\s+it|at\b|out\b))",
        r"\b(?:i|we|he|she|they|(?:my|his|her|their|our)\s+<PERSON>)\s+(?:was|were|am|is|are"
        r"|get|gets|got|been|being|have\s+been|has\s+been|keep\s+getting)\s+(?:\w+\s+)?"
        r"(?:hit|beaten|punched|kicked|slapped|strangled|choked|abused|raped|assaulted"
        r"|attacked|molested|groomed)\b"
        r"(?!\s+by\s+(?:a|the)\s+(?:car|bus|van|bike|bicycle|ball|door|lorry|taxi|vehicle))",
        r"\b(?:physically|sexually|emotionally|financially|verbally)\s+(?:abused|assaulted"
        r"|abusing|assaulting|abusive)\b",
        r"\b(?:abusive|violent|controlling)\s+(?:<PERSON>|relationship|marriage|home)\b",
        r"\b(?:victim|survivor)\s+of\s+(?:domestic\s+)?(?:abuse|violence|rape|assault)\b",
        r"\b(?:experiencing|suffering|suffered|fleeing|fled|escaping|escaped)\s+(?:from\s+)?"
        r"domestic\s+(?:abuse|violence)\b",
        r"<WHO>\s+(?:takes?|took|taking|taken|stole|steals?|stealing|keeps?|kept|spends?"
        r"|spent|spending)\s+(?:all\s+(?:of\s+)?)?(?:<POSS>|mum's|dad's)\s+"
        r"(?:money|pension|benefits?|savings|wages|bank\s+cards?|cards?|pin)\b",
        r"<WHO>\s+(?:steals?|stole|stealing)\s+from\s+<OBJ>",
        r"<WHO>\s+(?:won'?t|will\s+not|wouldn'?t|doesn'?t|does\s+not|never)\s+lets?\s+<OBJ>\s+"
        r"(?:leave|go\s+out|out|see\s+(?:my|our|any|friends|family)|have\s+(?:my|any|our)"
        r"\s+(?:own\s+)?money|eat)\b",
        r"<WHO>\s+(?:locks?|locked|locking)\s+<OBJ>\s+(?:in|up)\b",
        r"<WHO>\s+(?:threaten(?:s|ed|ing)?|intimidat(?:es|ed|ing)|control(?:s|led|ling)?)"
        r"\s+<OBJ>",
        r"<WHO>\s+touch(?:es|ed|ing)?\s+<OBJ>\s+(?:\w+\s+)?(?:inappropriately|sexually"
        r"|down\s+there|where)",
        r"\b(?:afraid|scared|frightened|terrified)\s+of\s+(?:him|them|<POSS>\s+<PERSON>)\b",
    ],
    "neglect": [
        r"\b<NOT>\s+(?:been\s+|being\s+)?fed\b",
        r"\b(?:no\s*one|nobody)\s+(?:\w+\s+)?(?:feeds|fed|washes|washed|changes|changed|turns"
        r"|turned|checks\s+on|checked\s+on)\s+<OBJ>",
        r"\b(?:no\s*one|nobody)\s+(?:is\s+)?(?:looks?|looking)\s+after\s+<OBJ>",
        r"\b<NOT>\s+(?:been\s+)?(?:washed|bathed|changed|turned|given\s+(?:any(?:thing)?\s+"
        r"|<POSS>\s+)?(?:food|water|a\s+drink|medication|medicine|meds|tablets|insulin))"
        r"(?:\s+\w+){0,3}?\s+<LONG>",
        r"\b<NOT>\s+(?:had|eaten|drunk)(?:\s+(?:anything|any\s+food|food|a\s+meal|a\s+drink"
        r"|anything\s+to\s+(?:eat|drink)|water))?\s+<LONG>",
        r"\bleft\s+(?:\w+\s+){0,3}?(?:in|on)\s+(?:soiled|dirty|wet)\s+(?:sheets|bed|bedding"
        r"|pads?|clothes|nappy|nappies)\b",
        r"\bleft\s+(?:\w+\s+){0,3}?(?:in|on|covered\s+in)\s+(?:<POSS>\s+)?own\s+(?:urine"
        r"|faeces|feces|mess|excrement|vomit|waste)\b",
        r"\bleft\s+(?:\w+\s+){0,2}?without\s+(?:any\s+)?(?:food|water|a\s+drink|heating"
        r"|(?:<POSS>\s+)?(?:medication|medicine|meds|insulin))\b",
        r"\bleft\s+(?:\w+\s+){0,2}?(?:on\s+the\s+floor|alone)\s+<LONG>",
        r"\bno\s+(?:food|heating|electricity)\s+in\s+the\s+(?:house|flat|home)\b",
    ],
    "immediate-danger": [
        r"(?:\bnot|n'?t|\bnever)\s+(?:feel\s+|feeling\s+)?safe\s+(?:at\s+home"
        r"|in\s+(?:my|our|the)\s+(?:own\s+)?(?:house|home|flat)|here|going\s+home"
        r"|with\s+(?:him|her|them|<POSS>\s+<PERSON>))\b",
        r"\b(?:threaten(?:s|ed|ing)?|attack(?:s|ed|ing)?|came\s+at|comes\s+at|coming\s+at"
        r"|went\s+for|chas(?:es|ed|ing))\s+(?:<OBJ>\s+)?with\s+an?\s+(?:knife|gun|weapon"
        r"|machete|blade|hammer|(?:baseball\s+)?bat|axe|screwdriver)\b",
        r"<WHO>\s+(?:has\s+got|has|got|holding|carrying|pulled|waving|brandishing|wielding)"
        r"\s+an?\s+(?:knife|gun|machete|weapon|blade|axe)\b",
        r"\bthreaten(?:s|ed|ing)?\s+to\s+(?:kill|hurt|stab|shoot|burn|strangle|beat)\s+<OBJ>",
        r"<WHO>\s*(?:going\s+to|gonna|will|would|wants?\s+to|tried\s+to|trying\s+to"
        r"|'ll|'d)\s+(?:kill|murder|stab|shoot|strangle)\s+<OBJ>(?!\s+(?:when|for)\b)",
        r"\b(?:i'm|i\s+am|we're|we\s+are|(?:he|she)'s|(?:he|she)\s+is|they're|they\s+are"
        r"|(?:my|our)\s+<PERSON>\s+is)\s+in\s+(?:immediate\s+|real\s+|serious\s+)?danger\b",
    ],
}


def _compile(pattern: str) -> re.Pattern[str]:
    # Longest first, so "<NOT_TOPIC>" is not read as "<NOT>" and "_TOPIC>".
    for token in sorted(SUBSTITUTIONS, key=len, reverse=True):
        pattern = pattern.replace(token, SUBSTITUTIONS[token])
    return re.compile(pattern, re.IGNORECASE)


COMPILED = {category: [_compile(p) for p in PATTERNS[category]] for category in CATEGORIES}


def assess(text: str) -> Concern:
    found: list[tuple[int, str]] = []
    categories = []
    for category in CATEGORIES:
        hits = [(m.start(), m.group(0)) for p in COMPILED[category] for m in p.finditer(text)]
        if hits:
            categories.append(category)
            found += hits
    matches = list(dict.fromkeys(phrase for _, phrase in sorted(found)))
    return Concern(urgent=bool(URGENT & set(categories)), categories=categories, matches=matches)
