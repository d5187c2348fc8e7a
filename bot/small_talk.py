"""Messages that are not questions: a greeting or a thanks, alone. Searched, "Hi" or «شكرا»
would meet whatever passage of a large archive scores closest to a word that short (the models
put short strings near everything), and a news bot that answers "Thanks!" with a quote about
the stock market looks broken; these get a short reply in kind instead. Anything more than
greeting and thanks words ("Hi, where were the drones launched from?") is a question."""

from __future__ import annotations

import re

from index.lexical import fold_arabic

# A message is small talk when every word is one of these and at least one is an anchor; the
# anchor's kind says which reply it gets (thanks wins over a greeting: "hi, thanks!").
_GREETING = (
    "hi hey hello how hallo hiya howdy greetings morning afternoon evening salam salaam "
    "مرحبا مرحبتين اهلا اهلين هلا هاي السلام سلام صباح مساء حالك كيفك"
)
_THANKS = "thanks thank thx ty cheers appreciated شكرا مشكور مشكورة تسلم تسلمي يسلمو جزاك جزاكم يعطيك"
_FILLERS = (
    "good day there all everyone you are doing so very much lot a many it again and sanad bot dear friend "
    "و يا لك لكم جزيلا كثيرا الله خيرا العافية عليكم وعليكم ورحمة وبركاته الخير النور "
    "كيف انت انتم جميعا للجميع سند بوت اخي اختي صديقي"
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _key(word: str) -> str:
    """A word as compared here: lower case, Arabic letters folded (fold_arabic), and a letter
    stretched for emphasis ("hiii", «شكراااا») written once."""
    return re.sub(r"(.)\1{2,}", r"\1", fold_arabic(word.lower()))


def _keys(words: str) -> frozenset[str]:
    return frozenset(_key(w) for w in words.split())


_KINDS = {"thanks": _keys(_THANKS), "greeting": _keys(_GREETING)}
_ALLOWED = frozenset().union(*_KINDS.values(), _keys(_FILLERS))


def small_talk(message: str) -> str | None:
    """What small talk a message is ("thanks" or "greeting") when it is made only of such words;
    None for anything else."""
    words = {_key(w) for w in _WORD.findall(message)}
    if not words or len(words) > 8 or not words <= _ALLOWED:
        return None
    return next((kind for kind, anchors in _KINDS.items() if words & anchors), None)
