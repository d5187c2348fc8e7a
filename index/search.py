"""The search API shared by the bot and the command line: a question in, cited passages out."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import Config
from .embed import Embedder, load_embedder
from .normalize import clean_text, detect_language
from .store import Index, current_build, open_index

MAX_QUESTION_CHARS = 1000  # longer input is cut: no question needs more, and it bounds the work


@dataclass(frozen=True)
class Passage:
    rank: int
    doc_id: str
    title: str
    url: str | None
    date: str | None
    paragraph: int
    start: int
    end: int
    text: str
    highlight: str
    score: float

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "date"}


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    answered: bool
    passages: list[Passage] = field(default_factory=list)
    took_ms: float = 0.0
    more: bool = False  # further passages exist past these

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "lang": self.lang,
            "answered": self.answered,
            "passages": [p.to_dict() for p in self.passages],
            "took_ms": round(self.took_ms, 1),
        }


@dataclass
class _Hit:
    doc: int
    paragraph: int
    start: int
    end: int
    score: float
    sentence_rows: set[int]


def _merge_neighbours(index: Index, ids: np.ndarray, scores: np.ndarray) -> list[_Hit]:
    """Overlapping or touching chunks of one paragraph become one passage with the best score."""
    hits: list[_Hit] = []
    for chunk_id, score in zip(ids, scores):
        if chunk_id < 0:
            continue
        c = index.chunks[chunk_id]
        for hit in hits:
            if hit.doc == c.doc and hit.paragraph == c.paragraph and c.start <= hit.end + 1 and hit.start <= c.end + 1:
                hit.start, hit.end = min(hit.start, c.start), max(hit.end, c.end)
                hit.sentence_rows.update(c.sentence_rows)
                break
        else:
            hits.append(_Hit(c.doc, c.paragraph, c.start, c.end, float(score), set(c.sentence_rows)))
    return hits


class Searcher:
    """Holds the model and the current index; `reload()` swaps in a newer build atomically,
    so a question in flight finishes on the index it started with."""

    def __init__(self, config: Config, embedder: Embedder | None = None, index_dir: Path | None = None):
        self.config = config
        self.embedder = embedder or load_embedder(config)
        self.index_dir = index_dir or config.index_dir
        self.index: Index = open_index(self.index_dir, self.embedder.model_id)
        self.embedder.warm_up()
        self._reload_lock = threading.Lock()

    def reload(self) -> bool:
        """Open the current build if it is newer than the one in use; True if switched.
        A damaged new build raises IndexUnavailable and the old one stays in use."""
        with self._reload_lock:
            if current_build(self.index_dir) == self.index.path:
                return False
            self.index = open_index(self.index_dir, self.embedder.model_id)
            return True

    def ranked(self, query_vector: np.ndarray, index: Index | None = None, candidates: int | None = None) -> list[_Hit]:
        """All passages among the nearest `candidates` chunks, best first."""
        index = index or self.index
        n = min(candidates or self.config.search.candidates, index.vectors.ntotal)
        if n == 0:
            return []
        scores, ids = index.vectors.search(query_vector.reshape(1, -1), n)
        hits = _merge_neighbours(index, ids[0], scores[0])
        hits.sort(key=lambda h: -h.score)
        return hits

    def threshold(self, question_lang: str, passage_lang: str) -> float:
        same = question_lang == passage_lang
        return self.config.search.min_score if same else self.config.search.min_score_cross_language

    def ask(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        """Passages offset..offset+k for `question`, or an abstention when nothing is relevant."""
        began = time.perf_counter()
        question = clean_text(question)[:MAX_QUESTION_CHARS]
        lang = detect_language(question)
        if not question:
            return Answer(question, lang, False, took_ms=(time.perf_counter() - began) * 1000)
        k = k or self.config.search.top_k
        index = self.index  # one snapshot for the whole question
        query_vector = self.embedder.embed_queries([question])[0]
        hits = self.ranked(query_vector, index, max(self.config.search.candidates, 3 * (offset + k)))
        answered = bool(hits) and hits[0].score >= self.threshold(lang, index.documents[hits[0].doc].lang)
        passages = []
        if answered:
            passages = [
                self._passage(index, hit, rank, query_vector)
                for rank, hit in enumerate(hits[offset : offset + k], offset + 1)
            ]
        took = (time.perf_counter() - began) * 1000
        return Answer(question, lang, answered, passages, took, more=answered and len(hits) > offset + k)

    @staticmethod
    def _passage(index: Index, hit: _Hit, rank: int, query_vector: np.ndarray) -> Passage:
        doc = index.documents[hit.doc]
        rows = sorted(hit.sentence_rows)
        best = rows[int(np.argmax(index.sentence_vectors[rows] @ query_vector))]
        s_start, s_end = index.sentence_spans[best]
        return Passage(
            rank,
            doc.id,
            doc.title,
            doc.url,
            doc.date,
            hit.paragraph,
            hit.start,
            hit.end,
            doc.text[hit.start : hit.end],
            doc.text[s_start:s_end],
            round(hit.score, 4),
        )
