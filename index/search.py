"""The search API shared by the bot and the command line: a question in, cited passages out.

Ranking fuses scores, not ranks: the model's cosine, the second model's cosines (whole
chunk, and its best sentence), and BM25 — the last only for chunks in the question's
language, since lexical matches across scripts are noise. Whether to answer at all is
decided on the semantic part alone (cosines are comparable across questions; BM25 is not).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .config import Config
from .embed import Models, load_models
from .lexical import tokens
from .normalize import clean_text, model_text, question_language
from .store import LANGS, Index, current_build, open_index

MAX_QUESTION_CHARS = 1000  # longer input is cut: no question needs more, and it bounds the work
HIGHLIGHT_LEXICAL_WEIGHT = 0.3  # share of question words in a sentence, added to its cosine
HIGHLIGHT_MAX_WORDS = 40  # a longer sentence is highlighted by its best clause only
_CLOSERS = " \"'”’»)]"


def _asks(text: str) -> bool:
    """Whether a sentence is a question (its closing quotes and brackets aside)."""
    return text.rstrip(_CLOSERS).endswith(("?", "؟"))


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
class Hit:
    """A passage before it is cited: one chunk, or neighbouring chunks of a paragraph merged."""

    doc: int
    paragraph: int
    start: int
    end: int
    score: float  # fused: ranks passages
    semantic: float  # cosines only: decides whether to answer
    sentence_rows: set[int]


@dataclass(frozen=True)
class Query:
    """A question with everything scoring needs, computed once."""

    text: str
    lang: str
    vector: np.ndarray
    second_vector: np.ndarray | None
    words: frozenset[str]


def _merge_neighbours(index: Index, ids: np.ndarray, fused: np.ndarray, semantic: np.ndarray) -> list[Hit]:
    """Overlapping or touching chunks of one paragraph become one passage with the best scores."""
    hits: list[Hit] = []
    for i in np.argsort(-fused, kind="stable"):
        c = index.chunk(int(ids[i]))
        touching = [
            h
            for h in hits
            if h.doc == c.doc and h.paragraph == c.paragraph and c.start <= h.end + 1 and h.start <= c.end + 1
        ]
        if not touching:
            hits.append(
                Hit(c.doc, c.paragraph, c.start, c.end, float(fused[i]), float(semantic[i]), set(c.sentence_rows))
            )
            continue
        # The chunk joins the best passage it touches, and bridges any other it touches into it:
        # two passages of one reply never overlap.
        first, *bridged = touching
        for hit in [c, *bridged]:
            first.start, first.end = min(first.start, hit.start), max(first.end, hit.end)
            first.sentence_rows.update(hit.sentence_rows)
        first.semantic = max([first.semantic, float(semantic[i])] + [h.semantic for h in bridged])
        hits = [h for h in hits if not any(h is b for b in bridged)]
    return hits


def _questions(index: Index, ids: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each chunk, its sentence-unit rows and which of them are questions. Articles ask
    questions too (subheadings, interviews, rhetorical ones): such a sentence looks like the
    reader's question to a bi-encoder, but never answers it."""
    rows, asks = [], []
    for i in ids:
        chunk_rows = index.unit_rows(int(i))
        text = index.documents[int(index.chunk_table[i, 0])].text
        rows.append(chunk_rows)
        asks.append(np.array([_asks(text[a:b]) for a, b in index.sentence_spans[chunk_rows][:, :2]], dtype=bool))
    return rows, asks


def _best_unit(
    rows: list[np.ndarray], asks: list[np.ndarray], unit_vectors: np.ndarray, query: np.ndarray
) -> np.ndarray:
    """For each chunk, the cosine of its sentence unit closest to the question, leaving out the
    units that are questions (every chunk here holds some other)."""
    scores = unit_vectors[np.concatenate(rows)] @ query
    bounds = np.cumsum([0] + [len(r) for r in rows])
    return np.array([scores[a:b][~ask].max() for a, b, ask in zip(bounds[:-1], bounds[1:], asks)], dtype=np.float32)


class Searcher:
    """Holds the models and the current index; `reload()` swaps in a newer build atomically,
    so a question in flight finishes on the index it started with."""

    def __init__(self, config: Config, models: Models | None = None, index_dir: Path | None = None):
        self.config = config
        self.models = models or load_models(config)
        self.index_dir = index_dir or config.index_dir
        self.index: Index = self._open()
        self.models.warm_up()
        # One question is too small a job to share out: FAISS's idle OpenMP threads would spin
        # against the embedding runtime (flat search at 10k chunks: 10 ms with 2 threads, 0.9 with 1).
        faiss.omp_set_num_threads(1)
        self._reload_lock = threading.Lock()

    def _open(self) -> Index:
        second = self.models.second.model_id if self.models.second else None
        return open_index(self.index_dir, self.models.primary.model_id, second)

    def reload(self) -> bool:
        """Open the current build if it is newer than the one in use; True if switched.
        A damaged new build raises IndexUnavailable and the old one stays in use."""
        with self._reload_lock:
            if current_build(self.index_dir) == self.index.path:
                return False
            self.index = self._open()
            return True

    def queries(self, questions: list[str]) -> list[Query]:
        """Questions cleaned, their language told, and embedded in batches."""
        texts = [clean_text(q)[:MAX_QUESTION_CHARS] for q in questions]
        read = [model_text(t) for t in texts]
        vectors = self.models.primary.embed_queries(read)
        second = self.models.second.embed_queries(read) if self.models.second else [None] * len(texts)
        return [Query(t, question_language(t), v, s, frozenset(tokens(t))) for t, v, s in zip(texts, vectors, second)]

    def ranked(self, query: Query, index: Index | None = None, candidates: int | None = None) -> list[Hit]:
        """Passages among the nearest chunks (dense, plus lexical in the question's language), best first."""
        index = index or self.index
        s = self.config.search
        n = min(candidates or s.candidates, index.n_chunks)
        if n == 0:
            return []
        _, nearest = index.faiss_index.search(query.vector.reshape(1, -1), n)
        ids = nearest[0][nearest[0] >= 0]
        lexical = None
        if s.weight_lexical > 0 and query.lang in ("ar", "en"):
            bm25 = index.lexical.scores(query.text)
            if bm25.max() > 0:
                lexical = bm25 / bm25.max()
                top = np.argpartition(-lexical, n - 1)[:n] if n < len(lexical) else np.arange(len(lexical))
                ids = np.union1d(ids, top[lexical[top] > 0])
        # A chunk that only asks (a subheading, an interviewer's question) is never shown as an
        # answer, however much it looks like the reader's question.
        rows, asks = _questions(index, ids)
        answers = [i for i, ask in enumerate(asks) if not ask.all()]
        ids, rows, asks = ids[answers], [rows[i] for i in answers], [asks[i] for i in answers]
        if not len(ids):
            return []
        # Weighted means of cosines, so scores read like a cosine whatever the weights.
        semantic = index.vectors[ids] @ query.vector
        semantic += s.weight_sentence * _best_unit(rows, asks, index.sentence_vectors, query.vector)
        total = 1 + s.weight_sentence
        if query.second_vector is not None and index.second_vectors is not None:
            semantic += s.weight_second_passage * (index.second_vectors[ids] @ query.second_vector)
            semantic += s.weight_second_sentence * _best_unit(
                rows, asks, index.second_sentence_vectors, query.second_vector
            )
            total += s.weight_second_passage + s.weight_second_sentence
        semantic /= total
        fused = semantic
        if lexical is not None:
            same_language = index.chunk_table[ids, 4] == LANGS.index(query.lang)
            fused = semantic + s.weight_lexical * lexical[ids] * same_language / total
        return _merge_neighbours(index, ids, fused, semantic)

    def threshold(self, question_lang: str, passage_lang: str) -> float:
        same = question_lang == passage_lang
        return self.config.search.min_score if same else self.config.search.min_score_cross_language

    def answered(self, query: Query, hits: list[Hit], index: Index) -> bool:
        """Answer when some passage is semantically close enough for its language pair. A
        question with no Arabic or Latin words (digits, symbols, emoji, other scripts) is never
        answered: the models score such strings close to everything (fuzzing showed it)."""
        if query.lang not in ("ar", "en"):
            return False
        return any(h.semantic >= self.threshold(query.lang, index.documents[h.doc].lang) for h in hits)

    def ask(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        """Passages offset..offset+k for `question`, or an abstention when nothing is relevant."""
        began = time.perf_counter()
        k = k or self.config.search.top_k
        if not clean_text(question):
            return Answer("", "other", False, took_ms=(time.perf_counter() - began) * 1000)
        index = self.index  # one snapshot for the whole question
        [query] = self.queries([question])
        # The same candidates for every page of a question: pages never repeat or skip a passage,
        # and an offset past them costs nothing.
        hits = self.ranked(query, index, max(self.config.search.candidates, k))
        answered = self.answered(query, hits, index)
        passages = []
        if answered:
            passages = [
                self.passage(index, hit, rank, query) for rank, hit in enumerate(hits[offset : offset + k], offset + 1)
            ]
        took = (time.perf_counter() - began) * 1000
        return Answer(query.text, query.lang, answered, passages, took, more=answered and len(hits) > offset + k)

    @staticmethod
    def highlight(index: Index, hit: Hit, query: Query) -> tuple[int, int]:
        """The span of the passage's sentence that best answers the question: the sentence unit
        closest to it (plus a share for its words, in the same language), shown as its whole
        sentence unless that sentence is a long run-on one."""
        rows = sorted(hit.sentence_rows)
        scores = index.sentence_vectors[rows] @ query.vector
        doc = index.documents[hit.doc]
        spans = index.sentence_spans[rows]
        if query.words and doc.lang == query.lang:
            shared = [len(query.words.intersection(tokens(doc.text[a:b]))) for a, b, _, _ in spans]
            scores = scores + HIGHLIGHT_LEXICAL_WEIGHT * np.asarray(shared) / len(query.words)
        asks = np.array([_asks(doc.text[a:b]) for a, b, _, _ in spans])
        if not asks.all():
            scores = np.where(asks, -np.inf, scores)  # a question in the article answers nothing
        start, end, sentence_start, sentence_end = (int(v) for v in spans[int(np.argmax(scores))])
        if len(doc.text[sentence_start:sentence_end].split()) <= HIGHLIGHT_MAX_WORDS:
            return max(sentence_start, hit.start), min(sentence_end, hit.end)
        return start, end

    def passage(self, index: Index, hit: Hit, rank: int, query: Query) -> Passage:
        doc = index.documents[hit.doc]
        start, end = self.highlight(index, hit, query)
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
            doc.text[start:end],
            round(hit.score, 4),
        )
