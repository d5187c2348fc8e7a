"""What a build is, whichever store holds it: segments of articles (their chunks, sentence
units, vectors of both models, BM25 index), a manifest naming the segment that holds each
article, and the `Index` a search reads them through."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass

import numpy as np

from ..chunk import Chunk
from ..documents import Document
from ..lexical import LexicalIndex
from ..split import Span

FORMAT_VERSION = 6  # bump when the build's files or how they are made change
LANGS = ("ar", "en", "other")  # language codes of chunks
ANY_MODEL = object()  # check_models: any second model


class IndexUnavailable(RuntimeError):
    """An index that is missing, damaged, or built for another model or format."""


class BuildBusy(RuntimeError):
    """A build that cannot start: another is running, or the store cannot be written."""


@dataclass(frozen=True)
class IndexedChunk:
    doc: int  # row in Index.documents
    paragraph: int
    start: int
    end: int
    lang: str
    sentence_rows: tuple[int, ...]  # rows of the sentence vectors


@dataclass
class BuildTables:
    """Everything a build holds, in memory, before it is written."""

    documents: list[Document]
    chunks: list[Chunk]
    chunk_langs: list[str]
    chunk_sentence_rows: list[tuple[int, ...]]
    sentence_spans: list[tuple[int, int, int, int]]  # per unit: start, end, sentence start, sentence end
    vectors: np.ndarray  # the model's chunk vectors
    second_vectors: np.ndarray | None  # the second model's chunk vectors
    sentence_vectors: np.ndarray  # the model's vectors of sentence units
    second_sentence_vectors: np.ndarray | None
    lexical: LexicalIndex
    profiles: np.ndarray  # the model's vector of each document's profile (stories.profile_text)


@dataclass
class Segment:
    """One segment of a build, opened read-only. Its chunk table is arrays, not rows: opening a
    large segment parses no per-chunk Python objects (a reload must not hold the interpreter
    while questions wait). Document rows here are the segment's own."""

    name: str
    documents: list[Document]
    paragraph_spans: list[list[Span]]
    chunk_table: np.ndarray  # [chunks, 6]: document row, paragraph, start, end, language, end of its units
    chunk_units: np.ndarray  # the sentence-unit rows of every chunk, one run after another
    sentence_spans: np.ndarray  # [units, 4]: a unit's span, then its whole sentence's, in the document
    sentence_vectors: np.ndarray | None  # None in a store that keeps vectors on its server
    second_sentence_vectors: np.ndarray | None
    faiss_index: object | None  # the embedded store's FAISS index over `vectors`
    vectors: np.ndarray | None
    second_vectors: np.ndarray | None
    lexical: LexicalIndex
    profiles: np.ndarray  # per document, the model's vector of its headline and lead

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_table)

    @functools.cached_property
    def _chunks_by_doc(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.chunk_table[:, 0], kind="stable")
        return order, self.chunk_table[order, 0]

    def doc_chunks(self, doc: int) -> np.ndarray:
        """The chunk rows of one of the segment's documents (its own row), in order."""
        order, docs = self._chunks_by_doc
        start, end = np.searchsorted(docs, [doc, doc + 1])
        return order[start:end]

    def unit_rows(self, chunk: int) -> np.ndarray:
        """The sentence-unit rows of one chunk."""
        end = int(self.chunk_table[chunk, 5])
        start = int(self.chunk_table[chunk - 1, 5]) if chunk else 0
        return self.chunk_units[start:end]

    def chunk(self, i: int) -> IndexedChunk:
        doc, paragraph, start, end, lang, _ = (int(v) for v in self.chunk_table[i])
        return IndexedChunk(doc, paragraph, start, end, LANGS[lang], tuple(int(r) for r in self.unit_rows(i)))


@dataclass(frozen=True)
class CandidateVectors:
    """What scoring reads of one segment's candidate chunks: their vectors (in the order asked)
    and those of their sentence units (rows sorted)."""

    chunk: np.ndarray
    second_chunk: np.ndarray | None
    unit_rows: np.ndarray
    unit: np.ndarray
    second_unit: np.ndarray | None


@dataclass(frozen=True)
class ArticleVectors:
    """An article's sentence units and chunks, in its order, with their vectors."""

    spans: np.ndarray  # [units, 4]: a unit's span, then its whole sentence's
    vectors: np.ndarray  # the model's, per unit
    second: np.ndarray | None  # the second model's, per unit
    chunk_spans: np.ndarray  # [chunks, 2]
    chunks: np.ndarray  # the model's, per chunk


def with_outlets(documents: list[Document], manifest: dict) -> list[Document]:
    """Documents of a segment with the outlets their sources named, which live in the build's
    groups: a merge that left them out would change their fingerprints, and the next build
    would take them for changed articles."""
    groups = manifest.get("groups") or {}
    return [dataclasses.replace(doc, outlet=(groups.get(doc.id) or [None] * 3)[2]) for doc in documents]


class Index:
    """One build: its segments searched together, minus the articles removed or replaced since
    a segment was written. Documents are numbered across segments (segment after segment), so
    a row names one article version in the whole build. Each store says how the nearest chunks
    are found and where their vectors come from (`nearest`, `candidate_vectors`, `warm`)."""

    def __init__(self, build_id: str, manifest: dict, segments: list[Segment]):
        self.build_id, self.manifest, self.segments = build_id, manifest, segments
        self.documents: list[Document] = [doc for seg in segments for doc in seg.documents]
        self.paragraph_spans = [spans for seg in segments for spans in seg.paragraph_spans]
        self.doc_offset = np.cumsum([0] + [len(seg.documents) for seg in segments])[:-1].tolist()
        # An article is in the archive in the segment the manifest names for it; a copy in an
        # older segment was removed or replaced. Per segment: its chunks still in (None: all).
        home = {doc_id: entry[0] for doc_id, entry in manifest["articles"].items()}
        self.doc_row, self.live = {}, []
        for seg, offset in zip(segments, self.doc_offset):
            gone = []
            for row, doc in enumerate(seg.documents):
                if home.get(doc.id) == seg.name:
                    self.doc_row[doc.id] = offset + row
                else:
                    gone.append(row)
            self.live.append(~np.isin(seg.chunk_table[:, 0], gone) if gone else None)
        self.live_rows = np.fromiter(self.doc_row.values(), dtype=np.int64, count=len(self.doc_row))  # ascending
        # Each document's date as a day number (-1: undated), for periods in questions.
        self.doc_days = np.array([day_number(doc.date) for doc in self.documents], dtype=np.int64)
        # Events and stories (index/stories.py): per live article row, and the rows of each.
        groups = manifest.get("groups") or {}
        self.event_of: dict[int, str] = {}
        self.story_of: dict[int, str] = {}
        self.named_outlet: dict[int, str] = {}  # as the source named it; else the URL tells
        self.shown_outlet: dict[int, str] = {}  # its display name, filled as asked (Searcher.outlet)
        self.profile_commonness: np.ndarray | None = None  # worked out when first asked (Searcher._commonness)
        self.event_rows: dict[str, list[int]] = {}
        self.story_rows: dict[str, list[int]] = {}
        for doc_id, row in self.doc_row.items():
            event, story, outlet = groups.get(doc_id, (None, None, None))
            if outlet:
                self.named_outlet[row] = outlet
            if event:
                self.event_of[row], self.story_of[row] = event, story
                self.event_rows.setdefault(event, []).append(row)
                self.story_rows.setdefault(story, []).append(row)

    @functools.cached_property
    def live_profiles(self) -> np.ndarray:
        """The model's vector of the headline and lead (stories.profile_text) of each article in
        the archive, in the order of `live_rows`."""
        mine = [np.asarray(seg.profiles, dtype=np.float32) for seg in self.segments if len(seg.documents)]
        if not mine or not len(self.live_rows):
            return np.zeros((0, 0), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(mine)[self.live_rows])

    @property
    def n_chunks(self) -> int:
        return sum(seg.n_chunks if live is None else int(live.sum()) for seg, live in zip(self.segments, self.live))

    @property
    def n_documents(self) -> int:
        return len(self.doc_row)

    def age_seconds(self) -> float:
        """Since the build was made."""
        try:
            created = dt.datetime.strptime(self.manifest["created"], "%Y-%m-%dT%H:%M:%S%z")
        except (KeyError, ValueError):
            return 0.0
        return max(0.0, time.time() - created.timestamp())

    def articles(self) -> list[Document]:
        """The documents in the archive, in build order."""
        return [self.documents[row] for row in self.doc_row.values()]

    def newest_first(self, rows) -> list[int]:
        """The dated ones of these document rows, newest first."""
        return sorted((row for row in rows if self.doc_days[row] >= 0), key=lambda row: -self.doc_days[row])

    def day(self, row: int) -> str:
        """A dated document's day, ISO."""
        return dt.date.fromordinal(int(self.doc_days[row])).isoformat()

    def masks(self, period: tuple[dt.date, dt.date] | None = None) -> list[np.ndarray | None]:
        """Per segment, the chunks that may be shown (None: all): live ones, and with a `period`
        only those whose article is dated inside it or undated."""
        if period is None:
            return self.live
        first, last = period[0].toordinal(), period[1].toordinal()
        masks = []
        for seg, offset, live in zip(self.segments, self.doc_offset, self.live):
            days = self.doc_days[offset + seg.chunk_table[:, 0]] if seg.n_chunks else np.zeros(0, dtype=np.int64)
            mask = (days < 0) | ((days >= first) & (days <= last))
            masks.append(mask if live is None else mask & live)
        return masks

    def nearest(self, vector: np.ndarray, n: int, period: tuple[dt.date, dt.date] | None = None) -> list[set[int]]:
        """Per segment, its chunks among the `n` nearest to `vector` over all segments, of those
        that may be shown (see `masks`)."""
        raise NotImplementedError

    def chunks_of(self, docs: list[int]) -> list[set[int]]:
        """Per segment, the live chunks of `docs` (rows in the build)."""
        chosen: list[set[int]] = [set() for _ in self.segments]
        for doc in docs:
            number = int(np.searchsorted(self.doc_offset, doc, side="right")) - 1
            live = self.live[number]
            local = self.segments[number].doc_chunks(doc - self.doc_offset[number])
            chosen[number].update(int(c) for c in local if live is None or live[c])
        return chosen

    def candidate_vectors(self, chosen: list[np.ndarray]) -> list[CandidateVectors | None]:
        """Per segment, the vectors scoring needs for its `chosen` chunk ids (None: none chosen)."""
        raise NotImplementedError

    def article_units(self, docs: list[int]) -> dict[int, list[tuple[int, int, int, int, np.ndarray]]]:
        """Every sentence unit of each of `docs` (rows in the build): its span, its whole
        sentence's span, and its vector (the model's)."""
        table = self.unit_table(docs)
        return {
            doc: [(*map(int, s), v) for s, v in zip(table[doc].spans, table[doc].vectors)] if doc in table else []
            for doc in docs
        }

    def unit_table(self, docs: list[int]) -> dict[int, ArticleVectors]:
        """What the sentence ranker reads of each of `docs` (rows in the build): its sentence
        units and chunks, in the article's order, with their vectors."""
        chosen = [np.array(sorted(found), dtype=np.int64) for found in self.chunks_of(docs)]
        table: dict[int, ArticleVectors] = {}
        for number, vectors in enumerate(self.candidate_vectors(chosen)):
            if vectors is None:
                continue
            segment, offset = self.segments[number], self.doc_offset[number]
            chunk_owners = offset + segment.chunk_table[chosen[number], 0].astype(np.int64)
            owner = {}
            for chunk, doc in zip(chosen[number].tolist(), chunk_owners.tolist()):
                for row in segment.unit_rows(chunk):
                    owner[int(row)] = doc
            owners = np.array([owner[row] for row in vectors.unit_rows.tolist()])
            for doc in np.unique(owners).tolist():
                mine, chunks = owners == doc, chunk_owners == doc
                table[doc] = ArticleVectors(
                    segment.sentence_spans[vectors.unit_rows[mine]][:, :4].astype(np.int64),
                    vectors.unit[mine],
                    vectors.second_unit[mine] if vectors.second_unit is not None else None,
                    segment.chunk_table[chosen[number][chunks]][:, 2:4].astype(np.int64),
                    vectors.chunk[chunks],
                )
        return {doc: table[doc] for doc in docs if doc in table}

    def warm(self, known: set[int]) -> None:
        """Make the first question on segments not in `known` (ids of segments already serving)
        as fast as any other."""

    def passage_counts(self) -> dict[str, int]:
        """Chunks per live document id."""
        counts: dict[str, int] = {}
        for seg, offset in zip(self.segments, self.doc_offset):
            for row, n in enumerate(np.bincount(seg.chunk_table[:, 0], minlength=len(seg.documents))):
                doc = seg.documents[row]
                if self.doc_row.get(doc.id) == offset + row:
                    counts[doc.id] = int(n)
        return counts


def day_number(date: str | None) -> int:
    try:
        return dt.date.fromisoformat(date[:10]).toordinal() if date else -1
    except ValueError:
        return -1


def read_manifest_dict(manifest, where, file=None) -> dict:
    """A build's manifest (of the build at `where`, read from `file`), checked; IndexUnavailable
    says why it cannot be used."""
    file = file or where
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format_version"), int):
        raise IndexUnavailable(f"index file damaged: {file}; rebuild with `sanad-index build`")
    found = manifest["format_version"]
    if found != FORMAT_VERSION:
        by = "a newer" if found > FORMAT_VERSION else "an older"
        raise IndexUnavailable(
            f"{where}: built by {by} Sanad (index format {found}, this one reads {FORMAT_VERSION}); "
            "rebuild with `sanad-index build`"
        )
    segments = manifest.get("segments")
    if (
        not isinstance(segments, list)
        or not all(isinstance(s, dict) and "name" in s for s in segments)
        or not isinstance(manifest.get("articles"), dict)
    ):
        raise IndexUnavailable(f"index file damaged: {file}; rebuild with `sanad-index build`")
    return manifest


def check_models(manifest: dict, model_id: str | None = None, second_model_id=ANY_MODEL) -> None:
    """Refuse a build made with other models than the ones in use."""
    if model_id is not None and manifest.get("model_id") != model_id:
        raise IndexUnavailable(
            f"the index was built with model {manifest.get('model_id')!r} but config names {model_id!r}; "
            "rebuild with `sanad-index build`"
        )
    if second_model_id is not ANY_MODEL and manifest.get("second_model_id") != second_model_id:
        raise IndexUnavailable(
            f"the index was built with second model {manifest.get('second_model_id')!r} but config names "
            f"{second_model_id!r}; rebuild with `sanad-index build`"
        )


def new_segment_name() -> str:
    return "seg-" + time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
