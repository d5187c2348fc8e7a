"""The sentence stage of a search: which sentence of the best articles answers the question.

Retrieval finds the right article (first for most questions), but inside it every passage
scores alike, and the lead that restates the story wins over the paragraph holding the detail
asked for. This stage takes the candidate sentences of the first articles (the ones the
default model finds closest, more from the first article than from the next), has them scored
(by the sentence ranker, ranker.py, or a CrossEncoder that search.matcher names), and puts
the passages in the order of their best sentence: each passage is built around its sentence
(the sentence, with its neighbours in the paragraph while the passage stays short), and that
sentence is the highlight. A CrossEncoder's best score also says whether anything found
answers at all (search.matcher_min_score); the ranker's answerability model does that for it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .split import LONG_SENTENCE_WORDS, sentence_spans
from .store import Index

SENTENCES_PER_ARTICLE = (10, 4, 2, 2)  # candidates read from the first, second, ... article
PASSAGE_CHARS = 300  # neighbours are added while the passage stays this short
_CLOSERS = " \"'”’»)]"


class MatcherError(Exception):
    """A matcher that cannot be loaded; the message says why and what to do."""


def load_matcher(name: str, threads: int = 1):
    """`off`: None; else a sentence-transformers CrossEncoder by name or path. torch is only
    imported here, so that commands that never load one do not pay for it."""
    if name == "off":
        return None
    if name == "default":
        raise MatcherError(
            "search.matcher: default is gone: the sentence ranker (search.ranker: default) chooses the "
            "sentence now; set search.matcher to off, or to a CrossEncoder name or path"
        )
    from .cross_encoder import NamedMatcher

    return NamedMatcher(name, threads)


def asks(text: str) -> bool:
    """Whether a sentence is a question (its closing quotes and brackets aside)."""
    return text.rstrip(_CLOSERS).endswith(("?", "؟"))


@dataclass(frozen=True)
class Candidate:
    """A sentence (or a clause of a long one) of an article, as the sentence stage reads it."""

    hit: int  # the article's best passage, in the ranked hits
    doc: int
    start: int
    end: int


@dataclass(frozen=True)
class Matched:
    """The stage's outcome: the passages re-ordered, and the best sentence's score."""

    hits: list
    best: float


def candidates(index: Index, hits: list, units: dict[int, list[tuple[int, int, int, int, float]]]) -> list[Candidate]:
    """The sentences to read: for the first articles of `hits`, their units closest to the
    question by the model's cosine (`units`: per article row, (start, end, sentence start,
    sentence end, cosine) of each unit), each read as its whole sentence unless that is long,
    never a sentence that is itself a question."""
    first_hit: dict[int, int] = {}
    for i, h in enumerate(hits):
        first_hit.setdefault(h.doc, i)
        if len(first_hit) == len(SENTENCES_PER_ARTICLE):
            break
    return [
        Candidate(i, doc, start, end)
        for (doc, i), quota in zip(first_hit.items(), SENTENCES_PER_ARTICLE)
        for start, end in article_candidates(index.documents[doc].text, units.get(doc, []), quota)
    ]


def article_candidates(text: str, units: list[tuple[int, int, int, int, float]], quota: int) -> list[tuple[int, int]]:
    """(start, end) of an article's `quota` candidates: its units closest to the question,
    each read as its whole sentence unless that is long, never a question."""
    found: list[tuple[int, int]] = []
    for start, end, s_start, s_end, _ in sorted(units, key=lambda u: -u[4]):
        if len(found) == quota:
            break
        whole = len(text[s_start:s_end].split()) <= LONG_SENTENCE_WORDS
        span = (s_start, s_end) if whole else (start, end)
        if span in found or asks(text[span[0] : span[1]]):
            continue
        found.append(span)
    return found


def passage_around(index: Index, doc: int, start: int, end: int) -> tuple[int, int, int]:
    """(paragraph number, start, end) of a passage built around the sentence start..end: its
    neighbours in the paragraph are added, the one before first, while it stays under
    PASSAGE_CHARS."""
    spans = index.paragraph_spans[doc]
    number = next((n for n, (a, b) in enumerate(spans, 1) if a <= start < b), 1)
    p_start, p_end = spans[number - 1]
    text = index.documents[doc].text
    sentences = sentence_spans(text, p_start, p_end)
    first = last = next((i for i, (a, b) in enumerate(sentences) if a <= start < b), None)
    if first is None:
        return number, start, end
    begin, finish = min(start, sentences[first][0]), max(end, sentences[last][1])
    grew = True
    while grew:
        grew = False
        if first > 0 and finish - sentences[first - 1][0] <= PASSAGE_CHARS:
            first -= 1
            begin, grew = sentences[first][0], True
        if last + 1 < len(sentences) and sentences[last + 1][1] - begin <= PASSAGE_CHARS:
            last += 1
            finish, grew = sentences[last][1], True
    return number, begin, finish


def rerank(index: Index, hits: list, found: list[Candidate], scores: np.ndarray, retrieval_weight: float) -> Matched:
    """Passages built around the candidates: first the first article's best, then the rest by
    their score plus `retrieval_weight` times how far their article's best passage trails the
    first article's; then the other passages, as ranked, leaving out those a new one overlaps."""
    if not found:
        return Matched(hits, float("-inf"))
    # An article's retrieval score is its best passage's; the first article (which a lead that
    # gave way may head with a lower-scoring passage) is never trailed by a later one.
    best: dict[int, float] = {}
    for h in hits:
        best[h.doc] = max(best.get(h.doc, h.score), h.score)
    top = best[hits[0].doc]
    ordered = scores + retrieval_weight * np.array([min(0.0, best[c.doc] - top) for c in found])
    # Retrieval decides the article of the first passage (it finds the right article far more
    # often than sentence scores tell articles apart); the scores decide the rest.
    ranked = np.argsort(-ordered, kind="stable").tolist()
    lead = next((i for i in ranked if found[i].doc == hits[0].doc), None)
    if lead is not None:
        ranked.remove(lead)
        ranked.insert(0, lead)
    built = []
    for i in ranked:
        c = found[int(i)]
        paragraph, start, end = passage_around(index, c.doc, c.start, c.end)
        if any(h.doc == c.doc and start < h.end and h.start < end for h in built):
            continue  # its sentence is already shown, or the passage would repeat one
        source = hits[c.hit]
        built.append(
            replace(
                source,
                paragraph=paragraph,
                start=start,
                end=end,
                score=float(ordered[i]),
                highlight=(c.start, c.end),
                sentence_rows=dict(source.sentence_rows),
            )
        )
    rest = [h for h in hits if not any(b.doc == h.doc and h.start < b.end and b.start < h.end for b in built)]
    return Matched(built + rest, float(scores.max()))
