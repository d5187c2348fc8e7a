"""The sentence ranker: which sentence of an article answers the question.

Retrieval finds the right article, but inside it every sentence restates the story and the
model's cosine puts the answering one first only about half the time. The ranker reads cheap
signals of each (question, candidate sentence) pair and combines them with weights learned
here from news questions (a LightGBM lambdarank model; bench/train_ranker.py writes
data/ranker.json): the two models' cosines, how far the sentence only restates the lead or the
whole story, the question's rarer words it holds (those past the headline apart: the detail
asked about), what the question asks for (a number, a time, a reason) against what the
sentence holds, numbers and Latin names shared across scripts, and where the sentence stands
in its article. Its scores order the sentences of one question; a second, logistic model
(Answerability) reads the best of them to say whether anything found answers at all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .lexical import fold_arabic, spelled_alike, tokens
from .names import latin_names, shared_names
from .store import ArticleVectors

WEIGHTS = Path(__file__).parent / "data" / "ranker.json"  # made by bench/train_ranker.py

FEATURES = (
    "cosine",  # the default model's, question to sentence
    "cosine_gap",  # how far below the best of the article's candidates
    "second_cosine",  # the second model's (0 without one)
    "second_gap",
    "headline_words",  # share of the headline's words the sentence holds
    "lead_cosine",  # to the article's first sentence
    "centre_cosine",  # to the mean of the article's sentences: restating the story
    "words_article_idf",  # the question's words it holds, weighed by their rarity in the article
    "words_past_headline",  # the same, of the question's words the headline does not hold
    "words_share",  # plain share of the question's words
    "number_asked_held",  # the question asks how many / how much, the sentence holds a number
    "time_asked_held",  # asks when, holds a date or a time word
    "reason_asked_held",  # asks why, holds a cause
    "holds_number",
    "holds_time",
    "shared_numbers",  # digits of the question found in the sentence
    "shared_names",  # Latin names of the question found, transliterated, in the sentence
    "is_lead",
    "position",  # sentence number over the article's count
    "log_words",
    "is_quote",
    "cross_language",  # question and article in different languages
    "question_headline",  # share of the question's words the headline holds: a question about the story itself
    "question_words",  # how many words the question has (log)
    "passage_cosine",  # the model's, question to the best chunk holding the sentence: its context
)


# What a question asks for, in both languages (matched on the question lower-cased).
_ASKS = {
    "number": re.compile(
        r"\bhow (many|much|old|long|far|big|large)\b|\bwhat (percentage|proportion|share|number|amount|sum)\b"
        r"|(^|\s)(كم|بكم|عدد|نسبة|مقدار|قيمة|حجم)(\s|$)"
    ),
    "time": re.compile(
        r"\bwhen\b|\b(what|which) (year|month|day|date|time)\b|(^|\s)(متى|تاريخ)(\s|$)|(أي|اي) (عام|سنة|يوم|شهر|تاريخ)"
    ),
    "reason": re.compile(r"\bwhy\b|\bwhat (caused|led|prompted)\b|(^|\s)(لماذا|لم|سبب|اسباب)(\s|$)|ما سبب|ما الذي دفع"),
}

_NUMBER_WORDS = frozenset(
    spelled_alike(w)
    for w in "واحد اثنان اثنين اثنتين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة سبع سبعة ثمان ثمانية تسع تسعة عشر عشرة "
    "عشرين عشرون ثلاثين أربعين خمسين مئة مائة مئات ألف آلاف الف ألفا مليون ملايين مليار مليارات نصف ربع ثلث "
    "بالمئة بالمائة % one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred hundreds thousand thousands million millions billion billions half quarter percent dozen dozens".split()
)
_TIME_WORDS = frozenset(
    spelled_alike(w)
    for w in "يناير فبراير مارس أبريل ابريل مايو يونيو يوليو أغسطس اغسطس سبتمبر أكتوبر اكتوبر نوفمبر ديسمبر "
    "كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة "
    "السبت أمس الأمس اليوم غدا غداً الماضي المقبل الساعة صباح مساء فجر ظهر عام العام سنة منذ january february "
    "march april may june july august september october november december monday tuesday wednesday thursday "
    "friday saturday sunday yesterday today tomorrow year years ago morning evening night".split()
)
# A cause, as a word of its own: Arabic ones at a word's start (a conjunction و or ف may lead,
# a pronoun may follow: «ولأنه»), English ones whole («after», not «afternoon»).
_REASON = re.compile(
    r"(?<![^\W\d_])[وف]?(بسبب|لان|نتيجة|اثر|بهدف|من اجل|بداعي|على خلفية|احتجاجا)"
    r"|\b(because|due to|in order to|after)\b"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_]+")
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_QUOTES = re.compile('["«»“”]')


def _words(text: str) -> list[str]:
    return [fold_arabic(w.lower()) for w in _WORD.findall(text)]


def asked(question: str) -> frozenset[str]:
    """What the question asks for: a subset of {number, time, reason}."""
    q = spelled_alike(question.lower())
    return frozenset(kind for kind, pattern in _ASKS.items() if pattern.search(q))


def numbers(text: str) -> set[str]:
    """The numbers written in digits (any script's digits), thousands separators dropped."""
    return {re.sub(r",(?=\d{3})", "", n) for n in _DIGITS.findall(spelled_alike(text).replace("٫", "."))}


def holds_number(text: str) -> bool:
    return bool(_DIGITS.search(spelled_alike(text))) or any(w in _NUMBER_WORDS for w in _words(text))


def holds_time(text: str) -> bool:
    folded = spelled_alike(text)
    return bool(_YEAR.search(folded)) or any(
        w.removeprefix("ال") in _TIME_WORDS or w in _TIME_WORDS for w in _words(text)
    )


def holds_reason(text: str) -> bool:
    return bool(_REASON.search(spelled_alike(text.lower())))


@dataclass(frozen=True)
class Sentence:
    """What the ranker reads of one sentence's text alone."""

    keys: frozenset[str]
    number: bool
    time: bool
    reason: bool
    numbers: frozenset[str]


@lru_cache(maxsize=8192)  # about 2 KB each: the sentences of some 70 questions' articles
def read_sentence(text: str) -> Sentence:
    """Read once: the sentences of the articles a question's passages come from are read again
    for every question that finds them."""
    return Sentence(
        frozenset(tokens(text)), holds_number(text), holds_time(text), holds_reason(text), frozenset(numbers(text))
    )


@dataclass(frozen=True)
class Question:
    """What the ranker reads of a question, computed once."""

    text: str
    lang: str
    vector: np.ndarray
    second_vector: np.ndarray | None
    keys: frozenset[str]
    asks: frozenset[str]
    numbers: frozenset[str]
    names: tuple[str, ...]

    @classmethod
    def of(
        cls, text: str, lang: str, vector: np.ndarray, second_vector: np.ndarray | None, keys: frozenset[str]
    ) -> Question:
        """`keys`: the question's matching keys (lexical.tokens), as retrieval already read them."""
        names = tuple(latin_names(text)) if lang == "en" else ()
        return cls(text, lang, vector, second_vector, keys, asked(text), frozenset(numbers(text)), names)


@dataclass(frozen=True)
class Article:
    """An article as the ranker reads it: its text and its units' and chunks' vectors."""

    title: str
    text: str
    lang: str
    vectors: ArticleVectors


def features(question: Question, article: Article, candidates: list[tuple[int, int]]) -> np.ndarray:
    """One row of FEATURES for each candidate span of `article`."""
    text, table = article.text, article.vectors
    spans, units_of = table.spans, table.vectors
    cosines = units_of @ question.vector
    second = (
        table.second @ question.second_vector
        if table.second is not None and question.second_vector is not None
        else None
    )
    chunk_cosines = table.chunks @ question.vector
    first_sentence = spans[0, 2] if len(spans) else 0
    lead_unit = units_of[0] if len(spans) else np.zeros_like(question.vector)
    centre = units_of.mean(axis=0) if len(spans) else lead_unit
    centre = centre / (np.linalg.norm(centre) or 1.0)
    sentences = sorted({(int(a), int(b)) for a, b in spans[:, 2:]})
    sentence_keys = [read_sentence(text[a:b]).keys for a, b in sentences]
    n = max(1, len(sentence_keys))
    article_idf = {
        k: math.log(1 + n / sum(k in s for s in sentence_keys))
        for k in question.keys
        if any(k in s for s in sentence_keys)
    }
    headline = set(tokens(article.title))
    past = {k: w for k, w in article_idf.items() if k not in headline}
    total_idf, total_past = sum(article_idf.values()) or 1.0, sum(past.values()) or 1.0
    question_headline = len(question.keys & headline) / len(question.keys) if question.keys else 0.0
    rows = []
    inside = [[i for i in range(len(spans)) if a <= spans[i, 0] and spans[i, 1] <= b] for a, b in candidates]
    best_cosine = max((cosines[i].max() for i in inside if i), default=0.0)
    best_second = max((second[i].max() for i in inside if i), default=0.0) if second is not None else 0.0
    for (a, b), units in zip(candidates, inside):
        units = units or [int(np.argmin(np.abs(spans[:, 0] - a)))]
        sentence = text[a:b]
        read = read_sentence(sentence)
        keys = read.keys
        cosine = float(cosines[units].max())
        second_cosine = float(second[units].max()) if second is not None else 0.0
        vector = units_of[units].mean(axis=0)
        vector = vector / (np.linalg.norm(vector) or 1.0)
        around = (table.chunk_spans[:, 0] <= a) & (a < table.chunk_spans[:, 1])  # the chunks holding it
        held_number, held_time = read.number, read.time
        position = next((i for i, (sa, sb) in enumerate(sentences) if sa <= a < sb), 0)
        rows.append(
            (
                cosine,
                cosine - best_cosine,
                second_cosine,
                second_cosine - best_second,
                len(headline & keys) / len(headline) if headline else 0.0,
                float(vector @ lead_unit),
                float(vector @ centre),
                sum(w for k, w in article_idf.items() if k in keys) / total_idf,
                sum(w for k, w in past.items() if k in keys) / total_past,
                len(question.keys & keys) / len(question.keys) if question.keys else 0.0,
                float("number" in question.asks and held_number),
                float("time" in question.asks and held_time),
                float("reason" in question.asks and read.reason),
                float(held_number),
                float(held_time),
                len(question.numbers & read.numbers) / len(question.numbers) if question.numbers else 0.0,
                shared_names(list(question.names), sentence),
                float(a <= first_sentence),
                position / n,
                math.log1p(len(sentence.split())),
                float(bool(_QUOTES.search(sentence))),
                float(question.lang != article.lang),
                question_headline,
                math.log1p(len(question.text.split())),
                float(chunk_cosines[around].max()) if around.any() else cosine,
            )
        )
    return np.array(rows, dtype=np.float32).reshape(len(candidates), len(FEATURES))


class Ranker:
    """A LightGBM ranker over FEATURES (lambdarank): its scores order the sentences of one
    question; across questions a higher best score means a likelier answer."""

    def __init__(self, names: list[str], model: str):
        import lightgbm

        self.columns = [FEATURES.index(name) for name in names]
        self.booster = lightgbm.Booster(model_str=model)

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> Ranker:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(saved["features"], saved["model"])

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """One score per row of features."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        return self.booster.predict(rows[:, self.columns], num_threads=1).astype(np.float32)


ANSWERABLE = Path(__file__).parent / "data" / "answerable.json"  # made by bench/train_answerable.py

# What says whether the best sentences found answer the question at all (a question of its own).
QUESTION_FEATURES = (
    "best_score",  # the ranker's, of the best candidate
    "best_cosine",
    "best_passage_cosine",
    "best_words",  # the largest share of the question's words one sentence holds
    "best_names",
    "best_numbers",
    "question_headline",  # of the first article
    "cross_language",
    "top_semantic",  # retrieval's semantic score of the first passage
    "off_topic",  # the question's closeness to the nearest everyday request (off_topic.py)
)


def question_features(rows: np.ndarray, scores: np.ndarray, top_semantic: float, off_topic: float) -> np.ndarray:
    """QUESTION_FEATURES of one question, from its candidates' FEATURES rows and ranker scores."""
    column = {name: rows[:, FEATURES.index(name)] for name in FEATURES}
    return np.array(
        [
            scores.max(),
            column["cosine"].max(),
            column["passage_cosine"].max(),
            column["words_share"].max(),
            column["shared_names"].max(),
            column["shared_numbers"].max(),
            column["question_headline"][0],
            column["cross_language"][0],
            top_semantic,
            off_topic,
        ],
        dtype=np.float32,
    )


class Answerability:
    """A logistic model over QUESTION_FEATURES (those it was fitted on): the probability that
    the best sentences found answer the question."""

    def __init__(self, names: list[str], mean: np.ndarray, scale: np.ndarray, weights: np.ndarray, bias: float):
        self.columns = [QUESTION_FEATURES.index(name) for name in names]
        self.mean, self.scale, self.weights, self.bias = mean, scale, weights, bias

    @classmethod
    def load(cls, path: Path = ANSWERABLE) -> Answerability:
        saved = json.loads(path.read_text(encoding="utf-8"))
        arrays = (np.array(saved[k], dtype=np.float32) for k in ("mean", "scale", "weights"))
        return cls(saved["features"], *arrays, float(saved["bias"]))

    def probability(self, features: np.ndarray) -> float:
        """Of one question's QUESTION_FEATURES (all of them, in order)."""
        logit = float(((features[self.columns] - self.mean) / self.scale) @ self.weights + self.bias)
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, logit))))
