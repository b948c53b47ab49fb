"""English free text is told from the languages residents in English ICSs also write in."""

from __future__ import annotations

import pytest

from engage_common.language import looks_english

ENGLISH = [
    "The receptionist was rude and I waited two hours for my appointment.",
    "I'd like more evening appointments for working people",
    "The GP surgery never answers the phone before 10am",
    "Staff friendly, parking terrible, waiting long",
    "Excellent care from nurses",
    "Café was closed, naïve booking system",
    # short replies: too few words to judge, so English unless the script says otherwise
    "Yes",
    "All good",
    "Brilliant 👍",
    "Dziękuję bardzo",
    "10/10",
    "",
]

NOT_ENGLISH = [
    ("Urdu", "ڈاکٹر بہت اچھے تھے لیکن انتظار بہت لمبا تھا"),
    ("Arabic", "كان الطبيب لطيفا جدا لكن الانتظار كان طويلا"),
    ("Punjabi (Gurmukhi)", "ਡਾਕਟਰ ਬਹੁਤ ਚੰਗੇ ਸਨ ਪਰ ਉਡੀਕ ਬਹੁਤ ਲੰਬੀ ਸੀ"),
    ("Bengali", "ডাক্তার খুব ভালো ছিলেন কিন্তু অপেক্ষা অনেক দীর্ঘ ছিল"),
    ("Chinese, short", "谢谢"),
    ("Polish", "Lekarz był bardzo miły, ale musiałem długo czekać na wizytę"),
    ("Romanian", "Doctorul a fost foarte amabil, dar am așteptat prea mult"),
    ("Romanian without diacritics", "Multumesc pentru ajutor, doamna doctor a fost foarte draguta"),
    ("Somali", "Dhakhtarku wuu fiicnaa laakiin sugitaanku aad buu u dheeraa"),
    ("Portuguese", "O atendimento foi muito bom mas a espera foi longa"),
    ("Lithuanian", "Gydytojas buvo labai malonus, bet laukti teko ilgai"),
    ("Romanised Urdu", "doctor bohat acha tha lekin intezar bohat lamba tha"),
]


@pytest.mark.parametrize("text", ENGLISH)
def test_english(text: str) -> None:
    assert looks_english(text)


@pytest.mark.parametrize("text", [t for _, t in NOT_ENGLISH], ids=[n for n, _ in NOT_ENGLISH])
def test_not_english(text: str) -> None:
    assert not looks_english(text)
