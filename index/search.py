"""The search API shared by the bot and the command line: a question in, cited passages out.

Ranking fuses scores, not ranks: the model's cosine, the second model's cosines (whole
chunk, and its best sentence), and BM25 — the last only for chunks in the question's
language, since lexical matches across scripts are noise. Whether to answer at all is
decided on the semantic part alone (cosines are comparable across questions; BM25 is not),
against two bars: a least score, and a margin over the question's closeness to everyday
requests no article answers (off_topic.py). A lead that restates its headline gives way to the
passage of its article that holds the detail, when the two score alike. Then the sentence
stage (matcher.py, ranker.py) chooses the sentence that answers among the first articles'
and builds the passages around the best ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from . import corroboration, ranker, stories
from . import matcher as matching
from .config import Config
from .corroboration import Report
from .embed import Embedder, Models, load_models
from .fragments import link_to_quote
from .lexical import idf, tokens
from .normalize import clean_text, model_text, question_language
from .off_topic import OFF_TOPIC_REQUESTS
from .split import LONG_SENTENCE_WORDS
from .store import LANGS, CandidateVectors, Index, Segment, open_store
from .stories import outlet_of
from .when import time_scope

MAX_QUESTION_CHARS = 1000  # longer input is cut: no question needs more, and it bounds the work
HIGHLIGHT_LEXICAL_WEIGHT = 0.3  # share of question words in a sentence, added to its cosine
HEADLINE_SHARE = 0.2  # of the headline's words a lead holds when it restates the headline


@functools.cache
def _request_vectors(model: Embedder) -> np.ndarray:
    """The everyday requests as the model embeds questions: once per model, however many
    searchers share it."""
    return model.embed_queries([model_text(t) for t in OFF_TOPIC_REQUESTS])


@functools.cache
def _matcher(name: str, threads: int):
    """The CrossEncoder `search.matcher` names, loaded once per process however many searchers share it."""
    return matching.load_matcher(name, threads)


@functools.cache
def _ranker() -> ranker.Ranker:
    """The sentence ranker, loaded once per process."""
    return ranker.Ranker.load()


@functools.cache
def _answerable() -> ranker.Answerability:
    """The ranker's answerability model, loaded once per process."""
    return ranker.Answerability.load()


@functools.lru_cache(maxsize=8192)
def _restates_headline(title: str, text: str) -> bool:
    """Whether `text` holds at least HEADLINE_SHARE of the headline's words (a headline made
    of a file name shares none). Cached: the same leads come back question after question."""
    headline = set(tokens(title))
    return bool(headline) and len(headline.intersection(tokens(text))) >= HEADLINE_SHARE * len(headline)


def _leads_give_way(hits: list[Hit], index: Index, within: float) -> None:
    """A lead that restates its article's headline trades places with the best other passage
    of that article scoring within `within` of it. News repeats the headline in the lead, so
    the lead matches every question about the story, while the detail asked for ("which
    company bought them?", "for how long?") is further down. Trading places keeps every other
    passage, and the order of articles, where it was."""
    leads = [
        h
        for h in hits
        if h.paragraph == 1
        and len(index.paragraph_spans[h.doc]) > 1
        and _restates_headline(index.documents[h.doc].title, index.documents[h.doc].text[h.start : h.end])
    ]
    for lead in leads:  # each once: a lead that gave way does not sink further
        i = next(i for i, h in enumerate(hits) if h is lead)
        j = next((j for j in range(i + 1, len(hits)) if hits[j].doc == lead.doc), None)
        if j is not None and hits[j].score >= lead.score - within:
            hits[i], hits[j] = hits[j], hits[i]


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
    link: str | None = None  # `url` scrolled to the highlight (a text fragment); not in the JSON
    outlet: str | None = None
    event: str | None = None
    story: str | None = None
    also_reported_by: tuple[Report, ...] = ()

    def to_dict(self) -> dict:
        fields = {k: v for k, v in asdict(self).items() if k not in ("link", "also_reported_by")}
        return {**fields, "also_reported_by": [r.to_dict() for r in self.also_reported_by]}


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    answered: bool
    passages: list[Passage] = field(default_factory=list)
    took_ms: float = 0.0
    more: bool = False  # further passages exist past these
    period: tuple[str, str] | None = None  # the days (ISO) the question asked about, if any
    no_single_story: bool = False  # asked how something developed, but no one story answers: as ranked

    def to_dict(self) -> dict:
        answer = {
            "question": self.question,
            "lang": self.lang,
            "answered": self.answered,
            "passages": [p.to_dict() for p in self.passages],
            "took_ms": round(self.took_ms, 1),
        }
        if self.period:
            answer["period"] = {"from": self.period[0], "to": self.period[1]}
        if self.no_single_story:
            answer["no_single_story"] = True
        return answer


@dataclass
class Hit:
    """A passage before it is cited: one chunk, or neighbouring chunks of a paragraph merged."""

    segment: int  # in Index.segments
    doc: int  # row in Index.documents
    paragraph: int
    start: int
    end: int
    score: float  # fused: ranks passages
    semantic: float  # cosines only: decides whether to answer
    sentence_rows: dict[int, float]  # the segment's sentence-unit rows, each with its cosine to the question
    highlight: tuple[int, int] | None = None  # the sentence the sentence stage chose, when it did


@dataclass(frozen=True)
class Query:
    """A question with everything scoring needs, computed once."""

    text: str
    lang: str
    vector: np.ndarray
    second_vector: np.ndarray | None
    keys: tuple[str, ...]  # lexical keys, in order, repeats kept (BM25 counts them)
    off_topic: float  # the model's cosine to the closest everyday request (OFF_TOPIC_REQUESTS)

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.keys)


def _merge_neighbours(
    segment: Segment,
    where: tuple[int, int],
    ids: np.ndarray,
    fused: np.ndarray,
    semantic: np.ndarray,
    unit_cosines: dict[int, float],
) -> list[Hit]:
    """Overlapping or touching chunks of one paragraph become one passage with the best scores.
    `where` is the segment's number and its first document row in the build."""
    hits: list[Hit] = []
    number, offset = where
    for i in np.argsort(-fused, kind="stable"):
        c = segment.chunk(int(ids[i]))
        doc = offset + c.doc
        touching = [
            h
            for h in hits
            if h.doc == doc and h.paragraph == c.paragraph and c.start <= h.end + 1 and h.start <= c.end + 1
        ]
        if not touching:
            hits.append(
                Hit(
                    number,
                    doc,
                    c.paragraph,
                    c.start,
                    c.end,
                    float(fused[i]),
                    float(semantic[i]),
                    {row: unit_cosines[row] for row in c.sentence_rows},
                )
            )
            continue
        # The chunk joins the best passage it touches, and bridges any other it touches into it:
        # two passages of one reply never overlap.
        first, *bridged = touching
        for hit in [c, *bridged]:
            first.start, first.end = min(first.start, hit.start), max(first.end, hit.end)
            first.sentence_rows.update({row: unit_cosines[row] for row in hit.sentence_rows})
        first.semantic = max([first.semantic, float(semantic[i])] + [h.semantic for h in bridged])
        hits = [h for h in hits if not any(h is b for b in bridged)]
    return hits


def _questions(index: Segment, ids: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each chunk, its sentence-unit rows and which of them are questions. Articles ask
    questions too (subheadings, interviews, rhetorical ones): such a sentence looks like the
    reader's question to a bi-encoder, but never answers it."""
    rows, asks = [], []
    for i in ids:
        chunk_rows = index.unit_rows(int(i))
        text = index.documents[int(index.chunk_table[i, 0])].text
        rows.append(chunk_rows)
        spans = index.sentence_spans[chunk_rows][:, :2]
        asks.append(np.array([matching.asks(text[a:b]) for a, b in spans], dtype=bool))
    return rows, asks


def _best_unit(
    rows: list[np.ndarray], asks: list[np.ndarray], unit_rows: np.ndarray, cosines: np.ndarray
) -> np.ndarray:
    """For each chunk, the cosine of its sentence unit closest to the question, leaving out the
    units that are questions (every chunk here holds some other). `cosines` are those of the
    units `unit_rows` (sorted)."""
    scores = cosines[np.searchsorted(unit_rows, np.concatenate(rows))]
    bounds = np.cumsum([0] + [len(r) for r in rows])
    return np.array([scores[a:b][~ask].max() for a, b, ask in zip(bounds[:-1], bounds[1:], asks)], dtype=np.float32)


class Searcher:
    """Holds the models and the current index; `reload()` swaps in a newer build atomically,
    so a question in flight finishes on the index it started with."""

    def __init__(self, config: Config, models: Models | None = None, index_dir: Path | None = None):
        self.config = config
        self.models = models or load_models(config)
        self.store = open_store(config, index_dir)  # the config's store, or build folders in `index_dir`
        self.index: Index = self._open()
        self.models.warm_up()
        threads = config.model.threads or os.cpu_count() or 1  # a question's one batch: every core
        m = config.model
        self.matcher = _matcher(config.search.matcher, threads)
        self.ranker = None
        if config.search.ranker == "default" and self.matcher is None:
            if m.name != "default":  # its signals are the default model's cosines
                raise matching.MatcherError(
                    f"search.ranker: default was trained on the default model's scores, not {m.name!r}'s; "
                    "set search.ranker to off (or search.matcher to a CrossEncoder)"
                )
            self.ranker = _ranker()
        self._requests = _request_vectors(self.models.primary)
        self._outlet_names = dict(self.config.sources.outlets)
        # One question is too small a job to share out: FAISS's idle OpenMP threads would spin
        # against the embedding runtime (flat search at 10k chunks: 10 ms with 2 threads, 0.9 with 1).
        faiss.omp_set_num_threads(1)
        self._reload_lock = threading.Lock()
        self.today = dt.date.today  # what "yesterday" counts from; tests fix it
        time_scope("warm up yesterday", self.today())  # dateparser loads its languages once

    def _open(self, reuse: Index | None = None) -> Index:
        second = self.models.second.model_id if self.models.second else None
        return self.store.open(self.models.primary.model_id, second, reuse)

    def newest_build(self) -> str | None:
        """The store's current build id (which may be newer than the one in use)."""
        return self.store.current()

    def reload(self) -> bool:
        """Open the current build if it is newer than the one in use; True if switched.
        A damaged new build raises IndexUnavailable and the old one stays in use."""
        with self._reload_lock:
            if self.store.current() == self.index.build_id:
                return False
            index = self._open(reuse=self.index)
            # The first user question after a switch is as fast as any other.
            index.warm({id(seg) for seg in self.index.segments})
            self.ranked(self.queries(["warm up"])[0], index)
            self._commonness(index)
            self.index = index
            return True

    def queries(self, questions: list[str]) -> list[Query]:
        """Questions cleaned, their language told, and embedded in batches."""
        texts = [clean_text(q)[:MAX_QUESTION_CHARS] for q in questions]
        read = [model_text(t) for t in texts]
        vectors = self.models.primary.embed_queries(read)
        second = self.models.second.embed_queries(read) if self.models.second else [None] * len(texts)
        off_topic = (vectors @ self._requests.T).max(axis=1)
        return [
            Query(t, question_language(t), v, s, tuple(tokens(t)), float(o))
            for t, v, s, o in zip(texts, vectors, second, off_topic)
        ]

    def ranked(
        self,
        query: Query,
        index: Index | None = None,
        candidates: int | None = None,
        period: tuple[dt.date, dt.date] | None = None,
        within: list[int] | None = None,
    ) -> list[Hit]:
        """Passages among the nearest chunks (dense, plus lexical in the question's language), best first.
        Candidates are chosen over the whole build, as if its segments were one index; with a
        `period`, only from articles dated inside it or undated; with `within` (rows), every
        chunk of those articles and no other."""
        index = index or self.index
        s = self.config.search
        n = candidates or s.candidates
        chosen = index.nearest(query.vector, n, period) if within is None else index.chunks_of(within)
        lexical = self._lexical(query, index, index.masks(period)) if s.weight_lexical > 0 else None
        if lexical is not None and within is None:
            pooled = np.concatenate(lexical)
            if len(pooled) > n:
                bar = max(np.partition(pooled, len(pooled) - n)[len(pooled) - n], np.float32(1e-9))
            else:
                bar = np.float32(1e-9)
            for ids, scores in zip(chosen, lexical):
                ids.update(np.flatnonzero(scores >= bar).tolist())
        ids = [np.array(sorted(found), dtype=np.int64) for found in chosen]
        hits: list[Hit] = []
        for number, vectors in enumerate(index.candidate_vectors(ids)):
            if vectors is not None:
                seg_lexical = lexical[number] if lexical is not None else None
                where = (number, index.doc_offset[number])
                hits += self._score(query, index.segments[number], where, ids[number], vectors, seg_lexical)
        hits.sort(key=lambda h: -h.score)
        if s.lead_swap_within:
            _leads_give_way(hits, index, s.lead_swap_within)
        return hits

    @staticmethod
    def _lexical(query: Query, index: Index, masks: list) -> list[np.ndarray] | None:
        """Per segment, BM25 of its chunks over the best chunk's in the whole build (0 for chunks
        not in `masks`: removed from the archive, or outside a period); words weighed by their
        IDF over all segments. None when the question has no word any chunk holds, or is in
        neither language."""
        if query.lang not in ("ar", "en") or not query.keys:
            return None
        lexicons = [segment.lexical for segment in index.segments]
        total = sum(lex.num_docs for lex in lexicons)
        idfs = {key: idf(sum(lex.doc_freq(key) for lex in lexicons), total) for key in set(query.keys)}
        scores = [lex.scores(query.keys, idfs) for lex in lexicons]
        scores = [s if mask is None else s * mask for s, mask in zip(scores, masks)]
        best = max((float(s.max()) for s in scores if len(s)), default=0.0)
        if best <= 0:
            return None
        return [s / best for s in scores]

    def _score(
        self,
        query: Query,
        segment: Segment,
        where: tuple[int, int],
        ids: np.ndarray,
        vectors: CandidateVectors,
        lexical: np.ndarray | None,
    ) -> list[Hit]:
        """Fused and semantic scores of one segment's candidate chunks (`vectors` holds theirs,
        in the order of `ids`), merged into passages."""
        s = self.config.search
        unit_cosines = vectors.unit @ query.vector
        # A chunk that only asks (a subheading, an interviewer's question) is never shown as an
        # answer, however much it looks like the reader's question.
        rows, asks = _questions(segment, ids)
        answers = [i for i, ask in enumerate(asks) if not ask.all()]
        ids, rows, asks = ids[answers], [rows[i] for i in answers], [asks[i] for i in answers]
        if not len(ids):
            return []
        # Weighted means of cosines, so scores read like a cosine whatever the weights.
        semantic = vectors.chunk[answers] @ query.vector
        semantic += s.weight_sentence * _best_unit(rows, asks, vectors.unit_rows, unit_cosines)
        total = 1 + s.weight_sentence
        if query.second_vector is not None and vectors.second_chunk is not None:
            semantic += s.weight_second_passage * (vectors.second_chunk[answers] @ query.second_vector)
            second_cosines = vectors.second_unit @ query.second_vector
            semantic += s.weight_second_sentence * _best_unit(rows, asks, vectors.unit_rows, second_cosines)
            total += s.weight_second_passage + s.weight_second_sentence
        semantic /= total
        fused = semantic
        if lexical is not None:
            same_language = segment.chunk_table[ids, 4] == LANGS.index(query.lang)
            fused = semantic + s.weight_lexical * lexical[ids] * same_language / total
        cosine_of = dict(zip(vectors.unit_rows.tolist(), unit_cosines.tolist()))
        return _merge_neighbours(segment, where, ids, fused, semantic, cosine_of)

    def _commonness(self, index: Index) -> np.ndarray:
        """How close each article's profile comes to everyday requests (stories.commonness),
        worked out once per build."""
        if index.profile_commonness is None:
            index.profile_commonness = stories.commonness(index.live_profiles, self._requests)
        return index.profile_commonness

    def bars(self, question_lang: str, passage_lang: str) -> tuple[float, float]:
        """The least semantic score a passage needs to answer, and its least margin over the
        question's closeness to everyday requests, for a language pair (a passage in neither
        language gets the question's more lenient margin)."""
        s = self.config.search
        least = s.min_score if question_lang == passage_lang else s.min_score_cross_language
        margins = {lang: getattr(s.min_margin, f"{question_lang}_{lang}") for lang in ("ar", "en")}
        return least, margins.get(passage_lang, min(margins.values()))

    def relevant(self, query: Query, hits: list[Hit], index: Index) -> list[Hit]:
        """The passages semantically close enough to answer, for their language pair: their
        score reaches the pair's bar, and beats the question's closeness to the nearest
        everyday request by the pair's margin (a request for a recipe scores near some news
        passage about food, but nearer still to a request for another recipe). A question
        with no Arabic or Latin words (digits, symbols, emoji, other scripts) has none: the
        models score such strings close to everything (fuzzing showed it)."""
        if query.lang not in ("ar", "en"):
            return []
        relevant = []
        for h in hits:
            least, margin = self.bars(query.lang, index.documents[h.doc].lang)
            if h.semantic >= least and h.semantic - query.off_topic >= margin:
                relevant.append(h)
        return relevant

    def answered(self, query: Query, hits: list[Hit], index: Index) -> bool:
        """Answer when some passage is relevant; otherwise the question is off-topic."""
        return bool(self.relevant(query, hits, index))

    def ask(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        """Passages offset..offset+k for `question`, or an abstention when nothing is relevant.
        A time expression in the question keeps to articles dated in its period (undated ones
        after them); "latest" shows the story told by the articles whose headline and lead are
        closest to the question (stories.asked_story), one passage per event, newest first (all
        of a one-event story's), and then the other passages; with no one story clear, or none of
        its passages relevant, the passages as ranked."""
        began = time.perf_counter()
        k = k or self.config.search.top_k
        cleaned = clean_text(question)[:MAX_QUESTION_CHARS]
        if not cleaned:
            return Answer("", "other", False, took_ms=(time.perf_counter() - began) * 1000)
        index = self.index  # one snapshot for the whole question
        scope = time_scope(cleaned, self.today())
        [query] = self.queries([scope.text])
        # The same candidates for every page of a question: pages never repeat or skip a passage,
        # and an offset past them costs nothing.
        hits = self.ranked(query, index, max(self.config.search.candidates, k), scope.period)
        answered = self.answered(query, hits, index)
        if scope.period and not self.answered(query, [h for h in hits if index.doc_days[h.doc] >= 0], index):
            # Nothing dated then answers it: the year may be what the news was about ("how much did
            # Qatar lend Barclays in 2008?", asked of 2018's news), not when it was written.
            scope = dataclasses.replace(scope, text=cleaned, period=None)
            [query] = self.queries([cleaned])  # its words are the question's again
            hits = self.ranked(query, index, max(self.config.search.candidates, k))
            answered = self.answered(query, hits, index)
        hits, answered = self.decide(query, hits, index, answered)
        no_single_story = False
        if scope.period:
            hits.sort(key=lambda h: index.doc_days[h.doc] < 0)  # stable: undated after dated
        elif scope.latest and answered:
            # The headlines closest to the question decide the story, then its events come
            # newest first: those retrieval left out too when one of their passages is relevant
            # (a story is asked for whole, but a long one holds events of other subjects); with
            # no one story clear, the passages stay as ranked (a newer article is not a better one).
            story = stories.asked_story(stories.closest_profiles(query.vector, index, self._commonness(index)), index)
            if story:
                have = {index.event_of.get(h.doc) for h in hits}
                missed = stories.closest_of(
                    [r for r in index.story_rows[story] if index.event_of[r] not in have], query.vector, index
                )
                more = self.relevant(query, self.ranked(query, index, within=missed), index) if missed else []
                if not more and not any(index.story_of.get(h.doc) == story for h in self.relevant(query, hits, index)):
                    story = None  # close by its headlines, but none of its passages answers
            if story:
                hits = hits + more
                hits = [hits[i] for i in stories.story_first([h.doc for h in hits], story, index)]
            no_single_story = story is None
        passages = []
        if answered:
            hits = self._fold_repeats(query, hits, index, offset + k)
            shown = hits[offset : offset + k]
            reports = self.reports(query, shown, index)
            passages = [
                dataclasses.replace(self.passage(index, hit, rank, query), also_reported_by=found)
                for rank, hit, found in zip(range(offset + 1, offset + 1 + len(shown)), shown, reports)
            ]
        took = (time.perf_counter() - began) * 1000
        period = tuple(day.isoformat() for day in scope.period) if scope.period else None
        more = answered and len(hits) > offset + k
        return Answer(cleaned, query.lang, answered, passages, took, more, period, no_single_story)

    def outlet(self, index: Index, row: int) -> str:
        """Who published the article of `row`, by its display name (sources.outlets); worked
        out once per row of a build, as corroboration asks for every article of an event."""
        name = index.shown_outlet.get(row)
        if name is None:
            doc = dataclasses.replace(index.documents[row], outlet=index.named_outlet.get(row))
            name = index.shown_outlet.setdefault(row, outlet_of(doc, self._outlet_names))
        return name

    def _quoted(self, query: Query, hit: Hit, index: Index, units: dict) -> np.ndarray:
        start, end = self.highlight(index, hit, query)
        return corroboration.within(units[hit.doc], start, end)

    def _fold_repeats(self, query: Query, hits: list[Hit], index: Index, upto: int) -> list[Hit]:
        """The first `upto` passages with none quoting what an earlier one of its event quotes from
        another outlet (it is that one's corroboration instead); the rest after them as they were."""
        if not index.event_of:
            return hits
        kept, folded = [], []
        for hit in hits:
            if len(kept) == upto:
                break
            event, outlet = index.event_of.get(hit.doc), self.outlet(index, hit.doc)
            earlier = [
                h
                for h in kept
                if event
                and outlet
                and index.event_of.get(h.doc) == event
                and self.outlet(index, h.doc) not in ("", outlet)
            ]
            if earlier:
                units = index.article_units(list({h.doc for h in [hit, *earlier]}))
                mine = self._quoted(query, hit, index, units)
                if any(corroboration.same_statement(mine, self._quoted(query, h, index, units)) for h in earlier):
                    folded.append(hit)
                    continue
            kept.append(hit)
        return kept + [h for h in hits[len(kept) + len(folded) :]]

    def reports(self, query: Query, shown: list[Hit], index: Index) -> list[tuple[Report, ...]]:
        """For each shown passage: the other outlets of its event whose article states what it
        quotes (corroboration.py), one report per outlet, the closest first."""
        outlet_of_row = functools.partial(self.outlet, index)
        others = {
            id(h): corroboration.to_read(
                h.doc, index.event_rows.get(index.event_of.get(h.doc, ""), []), index.doc_days, outlet_of_row
            )
            for h in shown
        }
        if not any(others.values()):
            return [() for _ in shown]
        units = index.article_units(list({r for h in shown for r in [h.doc, *others[id(h)]]}))
        found = []
        for hit in shown:
            quoted, best = self._quoted(query, hit, index, units), {}
            for row in others[id(hit)]:
                outlet = self.outlet(index, row)
                text = index.documents[row].text
                cosine, (start, end) = corroboration.closest(quoted, text, units[row])
                if cosine >= corroboration.SAME_STATEMENT and cosine > best.get(outlet, (-1.0,))[0]:
                    best[outlet] = (cosine, row, start, end)
            reports = []
            for outlet, (_, row, start, end) in sorted(best.items(), key=lambda item: -item[1][0]):
                doc = index.documents[row]
                link = link_to_quote(doc.url, doc.text, start, end) if doc.url else None
                reports.append(
                    Report(doc.id, outlet, doc.title, doc.url, doc.date, doc.text[start:end], link, start, end)
                )
            found.append(tuple(reports))
        return found

    def timeline(self, key: str, index: Index | None = None) -> tuple[str, list[stories.Event]] | None:
        """The story of an article (by id) or a story id, and its events in date order; None
        when there is no such article or story."""
        index = index or self.index
        row = index.doc_row.get(key)
        story = index.story_of.get(row) if row is not None else (key if key in index.story_rows else None)
        if story is None:
            return None
        return story, stories.timeline(index, story, lambda r: self.outlet(index, r))

    def decide(self, query: Query, hits: list[Hit], index: Index, answered: bool) -> tuple[list[Hit], bool]:
        """The sentence stage's verdict on ranked passages the retrieval rule would answer with:
        the passages re-ordered around its best sentences, and whether they answer at all (the
        CrossEncoder's best score reaches search.matcher_min_score, or the ranker's
        answerability reaches search.min_answerability)."""
        if not answered or (self.matcher is None and self.ranker is None):
            return hits, answered
        found, rows, scores = self.sentence_scores(query, hits, index)
        s = self.config.search
        weight = s.ranker_retrieval_weight if self.matcher is None else s.matcher_retrieval_weight
        matched = matching.rerank(index, hits, found, scores, weight)
        if self.matcher is not None:
            return matched.hits, matched.best >= s.matcher_min_score
        if not s.min_answerability or not found:
            return matched.hits, answered
        return matched.hits, self.answerability(query, hits, rows, scores) >= s.min_answerability

    def answerability(self, query: Query, hits: list[Hit], rows: np.ndarray, scores: np.ndarray) -> float:
        """How likely the best sentences found answer the question (ranker.Answerability)."""
        features = ranker.question_features(rows, scores, hits[0].semantic, query.off_topic)
        return _answerable().probability(features)

    def sentence_scores(
        self, query: Query, hits: list[Hit], index: Index
    ) -> tuple[list[matching.Candidate], np.ndarray | None, np.ndarray]:
        """The candidate sentences of the first articles (matcher.py), their ranker FEATURES
        (None with a CrossEncoder) and each one's score: the CrossEncoder's that search.matcher
        names, else the sentence ranker's (ranker.py)."""
        docs = list(dict.fromkeys(h.doc for h in hits))[: len(matching.SENTENCES_PER_ARTICLE)]
        tables = index.unit_table(docs)
        units = {
            doc: [(*map(int, span), float(v @ query.vector)) for span, v in zip(t.spans, t.vectors)]
            for doc, t in tables.items()
        }
        found = matching.candidates(index, hits, units)
        if self.matcher is not None:
            texts = [index.documents[c.doc].text[c.start : c.end] for c in found]
            return found, None, self.matcher.scores(query.text, texts)
        question = ranker.Question.of(query.text, query.lang, query.vector, query.second_vector, query.words)
        rows = np.zeros((len(found), len(ranker.FEATURES)), dtype=np.float32)
        for doc, table in tables.items():
            mine = [i for i, c in enumerate(found) if c.doc == doc]
            if mine:
                d = index.documents[doc]
                article = ranker.Article(d.title, d.text, d.lang, table)
                rows[mine] = ranker.features(question, article, [(found[i].start, found[i].end) for i in mine])
        return found, rows, self.ranker.scores(rows)

    def relevant_articles(self, question: str, index: Index | None = None) -> list[int]:
        """Rows of the articles holding a passage relevant enough to answer `question`, best first."""
        index = index or self.index
        [query] = self.queries([clean_text(question)[:MAX_QUESTION_CHARS]])
        return list(dict.fromkeys(h.doc for h in self.relevant(query, self.ranked(query, index), index)))

    @staticmethod
    def highlight(index: Index, hit: Hit, query: Query) -> tuple[int, int]:
        """The span of the passage's sentence that best answers the question: the sentence unit
        closest to it (plus a share for its words, in the same language), shown as its whole
        sentence unless that sentence is a long run-on one; or the one the sentence stage chose."""
        if hit.highlight is not None:
            return hit.highlight
        rows = sorted(hit.sentence_rows)
        segment = index.segments[hit.segment]
        scores = np.array([hit.sentence_rows[row] for row in rows])
        doc = index.documents[hit.doc]
        spans = segment.sentence_spans[rows]
        if query.words and doc.lang == query.lang:
            shared = [len(query.words.intersection(tokens(doc.text[a:b]))) for a, b, _, _ in spans]
            scores = scores + HIGHLIGHT_LEXICAL_WEIGHT * np.asarray(shared) / len(query.words)
        asks = np.array([matching.asks(doc.text[a:b]) for a, b, _, _ in spans])
        if not asks.all():
            scores = np.where(asks, -np.inf, scores)  # a question in the article answers nothing
        start, end, sentence_start, sentence_end = (int(v) for v in spans[int(np.argmax(scores))])
        if len(doc.text[sentence_start:sentence_end].split()) <= LONG_SENTENCE_WORDS:
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
            link_to_quote(doc.url, doc.text, start, end) if doc.url else None,
            self.outlet(index, hit.doc) or None,
            index.event_of.get(hit.doc),
            index.story_of.get(hit.doc),
        )
