"""Latin names against their Arabic spelling: an English question's "Airbus" or "Macron"
against «إيرباص» or «ماكرون» (the sentence ranker's shared_names). Both are written as a
skeleton of consonant classes (vowels and the letters that stand for them dropped) and compared
with one slip allowed."""

from __future__ import annotations

import re
from functools import lru_cache

from .lexical import STOPWORDS_EN, spelled_alike

_LATIN_DIGRAPHS = (("sh", "s"), ("ch", "s"), ("kh", "k"), ("gh", "k"), ("th", "t"), ("dh", "d"), ("ph", "f"))
_LATIN_CLASS = str.maketrans("bpvtdszcxkqgjflmnr", "bbbtdssskkkkkflmnr", "aeiouyhw'-")
_ARABIC_CLASS = str.maketrans(
    {
        **dict.fromkeys("بپڤ", "b"),
        **dict.fromkeys("تطث", "t"),
        **dict.fromkeys("دضذظ", "d"),
        **dict.fromkeys("سصزش", "s"),
        **dict.fromkeys("كقغجخگ", "k"),
        "ف": "f",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ر": "r",
        **dict.fromkeys("اأإآىيوؤئءةهحع", ""),
    }  # fmt: skip
)


def latin_names(question: str) -> list[str]:
    """Capitalised Latin words of a question past its first word, other than function words."""
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", question)
    return [w for w in words[1:] if w[0].isupper() and w.lower() not in STOPWORDS_EN and len(w) > 2]


def _skeleton_latin(word: str) -> str:
    word = word.lower()
    for pair, letter in _LATIN_DIGRAPHS:
        word = word.replace(pair, letter)
    return re.sub(r"(.)\1", r"\1", word.translate(_LATIN_CLASS))


@lru_cache(maxsize=65536)
def _skeleton_arabic(word: str) -> str:
    word = spelled_alike(word)
    for prefix in ("وال", "بال", "لل", "ال", "و"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            word = word[len(prefix) :]
            break
    return re.sub(r"(.)\1", r"\1", word.translate(_ARABIC_CLASS))


def _close(a: str, b: str) -> bool:
    """Equal, or one letter apart (inserted, dropped or changed), for skeletons of 3 or more."""
    if a == b:
        return True
    if min(len(a), len(b)) < 3 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def shared_names(names: list[str], text: str) -> float:
    """The share of `names` (Latin) found in `text`, spelled in Latin or in Arabic letters."""
    if not names:
        return 0.0
    latin = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    arabic = [_skeleton_arabic(w) for w in re.findall(r"[\u0600-\u06ff]+", text)]
    found = 0
    for name in names:
        skeleton = _skeleton_latin(name)
        # two consonants are too few to tell a name («Google», «غوغل») from a word («قال»)
        if name.lower() in latin or (len(skeleton) >= 3 and any(_close(skeleton, a) for a in arabic)):
            found += 1
    return found / len(names)
