"""The lexical side of retrieval: matching keys for Arabic and English words, and a BM25
index (bm25s) over them. Only matching uses these keys; displayed text is never altered."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .normalize import model_text

_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # harakat, Quranic marks, tatweel
_ALEF_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "٠": "0",
        "١": "1",
        "٢": "2",
        "٣": "3",
        "٤": "4",
        "٥": "5",
        "٦": "6",
        "٧": "7",
        "٨": "8",
        "٩": "9",
    }
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")


def spelled_alike(text: str) -> str:
    """`text` with what outlets spell either way unified: diacritics and tatweel removed, the
    alef/hamza forms and Persian yeh/keheh made one (for matching keys, and to tell whether a
    quotation is in a passage however it was spelled)."""
    return model_text(_DIACRITICS.sub("", text).translate(_ALEF_FOLD))


def _fold_ending(word: str) -> str:
    """Endings written either way unified: final ه as ta marbuta ة, final ى (alef maqsura) as ي,
    which the stemmer then treats alike (a pronoun suffix ه is stripped with it, as it should be)."""
    if len(word) > 2 and word[-1] in "هى":
        return word[:-1] + ("ة" if word[-1] == "ه" else "ي")
    return word


def fold_arabic(word: str) -> str:
    """A word's letters unified (see spelled_alike and _fold_ending)."""
    return _fold_ending(spelled_alike(word))


# Function words: frequent, and no evidence of what a passage is about. Compared before the
# ending is folded, so «على» (on) is dropped but «علي» (the name Ali) is not.
STOPWORDS_AR = frozenset(
    spelled_alike(w)
    for w in "في من الى إلى على عن ان أن إن او أو ثم حتى اذا إذا كان كانت يكون التي الذي الذين اللذان هذا هذه ذلك تلك "
    "هناك هنا هو هي هم هن انا أنا نحن انت أنت ما ماذا متى اين أين كيف لماذا كم هل لا لم لن قد مع عند بين بعد قبل "
    "كل بعض غير اي أي او و ف ب ل ك مثل منذ خلال حول ضد لدى لقد الا إلا اما أما ايضا أيضا فقط عليه عليها فيه فيها "
    "منه منها له لها لهم به بها ومن وفي وعلى والى وإلى وان وأن وقد ولم ولا وهو وهي وكان وكانت".split()
)


def _arabic_keys(word: str) -> list[str]:
    """A word's folded forms. A conjunction و/ف before ال (which Snowball's stemmer keeps) may
    be a prefix («والحكومة») or part of the word («والدين», parents): both readings are kept,
    so each matches what it should and the exact form counts twice."""
    word = spelled_alike(word)
    if word in STOPWORDS_AR:
        return []
    forms = [word]
    if len(word) > 4 and word[0] in "وف" and word[1:3] == "ال":
        forms.append(word[1:])
    return [_fold_ending(f) for f in forms if len(f) > 1]


STOPWORDS_EN = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being has have had do does "
    "did what which who whom whose when where why how that this these those it its into than then there their they "
    "them he she his her him we our you your i me my not no so such can could would should will may might must "
    "about after before during over under up down out off again further once also any all each both few more most "
    "other some same very just".split()
)


@lru_cache(maxsize=2)
def _stemmer(language: str):
    import Stemmer  # PyStemmer: the Snowball stemmers

    return Stemmer.Stemmer(language)


def tokens(text: str) -> list[str]:
    """Matching keys of a text: folded, stop words dropped, Snowball-stemmed by script."""
    arabic, latin = [], []
    for match in _WORD.finditer(_DIACRITICS.sub("", text)):
        word = match.group().lower()
        if _ARABIC_LETTER.search(word):
            arabic.extend(_arabic_keys(word))
        elif word not in STOPWORDS_EN:
            latin.append(word)
    keys = _stemmer("arabic").stemWords(arabic) if arabic else []
    if latin:
        keys += _stemmer("english").stemWords(latin)
    return keys


def idf(df: int, n: int) -> float:
    """BM25's inverse document frequency (the Lucene variant bm25s uses)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class LexicalIndex:
    """BM25 over chunk texts; scores every chunk for a query in one sparse pass. Its stored
    scores hold the IDF of its own chunks; `scores` can weigh each word by the IDF of a larger
    collection instead, so the segments of one build score as one index."""

    def __init__(self, retriever):
        self._retriever = retriever

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        corpus = [tokens(t) or [""] for t in texts]  # an empty chunk still takes its row
        retriever.index(corpus, show_progress=False)
        return cls(retriever)

    @property
    def num_docs(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def doc_freq(self, key: str) -> int:
        """How many chunks hold `key`."""
        token = self._retriever.vocab_dict.get(key)
        if token is None:
            return 0
        indptr = self._retriever.scores["indptr"]
        return int(indptr[token + 1] - indptr[token])

    def scores(self, keys: Sequence[str], idfs: dict[str, float] | None = None) -> np.ndarray:
        """BM25 of every chunk for the query `keys` (from `tokens`); with `idfs`, each key
        weighed by that IDF instead of this index's own."""
        scores = np.zeros(self.num_docs, dtype=np.float32)
        data, indices, indptr = (self._retriever.scores[k] for k in ("data", "indices", "indptr"))
        for key in keys:  # a repeated word counts again, as in bm25s
            token = self._retriever.vocab_dict.get(key)
            if token is None:
                continue
            a, b = int(indptr[token]), int(indptr[token + 1])
            weight = 1.0 if idfs is None else idfs[key] / idf(b - a, self.num_docs)
            np.add.at(scores, indices[a:b], data[a:b] * np.float32(weight))
        return scores

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))
