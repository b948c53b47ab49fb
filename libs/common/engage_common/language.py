"""Is a piece of free text (probably) in English?

Used to send text in other languages to someone who reads them: the safeguarding
patterns and the redactor's cues are English, so they cannot vouch for other text.

No model and no download: text mostly in a non-Latin script (Urdu, Arabic, Bengali,
Gurmukhi, Chinese, ...) is not English; otherwise the words are counted against the
commonest English words (function words, and the words people use about care) and the
commonest words of the other languages written in Latin script that English ICSs hear
most (Polish, Romanian, Somali, Portuguese, Lithuanian, Spanish, French, Romanised Urdu
and Punjabi), a word with a letter English does not use ("ł", "ș", "ã") counting as
foreign. Very short replies ("Yes", "All good", "Dziękuję bardzo") say too little to
judge and count as English unless their script says otherwise.
"""

from __future__ import annotations

import re
import unicodedata

SHORT = 4  # fewer words than this: too few to judge
ENGLISH_SHARE = 0.2


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ENGLISH = words(
    """
    a about after again all also always am an and any are as at back be because been
    before being but by can can't could couldn't did didn't do does doesn't don't down
    each even every for from get got had hadn't has hasn't have haven't he her here him
    his how i i'd i'll i'm i've if in into is isn't it it's its just know like made make
    many me more most much must my never no not now of off on once one only or other
    our out over please really said same see she should so some still such than thank
    thanks that that's the their them then there there's these they this those though
    through to too twice under until up us very was wasn't way we we're well were
    weren't what when where which while who why will with won't would wouldn't yes yet
    you you're your
    appointment appointments booked booking care clinic doctor doctors excellent
    friendly good great help helpful hospital kind long nurse nurses phone poor
    receptionist service staff time treated visit wait waited waiting ward
    """
)

FOREIGN = words(
    """
    ale bardzo był była było być czy dla dziękuję jak jest już lekarz mam mnie może
    nie się tak też tylko wizyta za żeby
    acest această fost cu dar este foarte mai mult nu pentru prea sunt și ți vă
    aad ayaa ayuu baa buu iyo laakiin oo waa waan waxaan wuu
    com das muito não obrigado para por que uma
    ačiū buvo labai ir yra
    con del el esta gracias los muy pero
    avec est et je les merci pas pour très une
    aur bahut bohat hai hain ki ko lekin mein nahi nahin tha thi
    """
)

# Latin letters with marks English never uses (accents it borrows, "é", "ï", stay out).
NOT_ENGLISH_LETTERS = set("ąćęłńśźżăâîșşțţãõçñáíóúàèìòùêôûüöäëőűėįųūčšžđħ")

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def _non_latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return 1 - latin / len(letters)


def looks_english(text: str) -> bool:
    if _non_latin_share(text) > 0.5:
        return False
    words = [w.replace("’", "'") for w in WORD.findall(text.lower())]
    if len(words) < SHORT:
        return True
    english = sum(1 for w in words if w in ENGLISH)
    foreign = sum(1 for w in words if w in FOREIGN or NOT_ENGLISH_LETTERS & set(w))
    return english / len(words) >= ENGLISH_SHARE and english > foreign
