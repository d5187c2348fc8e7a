"""The index on disk: each build is a folder (documents, chunk table, vectors of both models
for chunks and sentence units, FAISS index, BM25 index, manifest) made current by an atomic
symlink swap.

    <data_dir>/index/builds/<build id>/   one finished build
    <data_dir>/index/current -> builds/<build id>

A build is written to a hidden folder and renamed only when complete, so a failed or
killed build never touches the current index. The manifest is written last.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .chunk import Chunk
from .documents import Document
from .lexical import LexicalIndex
from .split import Span, paragraphs

FORMAT_VERSION = 3  # bump when the build's files or how they are made change
# "auto" searches exactly up to this many chunks (flat, one thread: 0.9 ms at 10k, 9.5 ms at
# 100k), and with HNSW above (0.3 ms at 100k, 0.2 ms at 1M, recall@10 .999 / .975 on realistic
# vectors): bench/scale.py.
FLAT_MAX_CHUNKS = 50_000
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.jsonl"  # paragraph, span, language and sentence rows of every chunk
FAISS = "vectors.faiss"  # nearest-neighbour index over VECTORS
VECTORS = "vectors.npy"  # the model's chunk vectors, for exact rescoring
SECOND = "second.npy"  # the second model's chunk vectors
SENTENCES = "sentences.npy"  # the model's vectors of sentence units (sentences, or clauses of long ones)
SECOND_SENTENCES = "second_sentences.npy"  # the second model's vectors of the same units
UNITS = "units.npy"  # per sentence unit: its span and its whole sentence's span in the document
LEXICAL = "lexical"  # the BM25 index (a folder)


class IndexUnavailable(RuntimeError):
    """An index that is missing, damaged, or built for another model or format."""


def make_faiss_index(vectors: np.ndarray, index_type: str) -> faiss.Index:
    """Inner product over normalised vectors (= cosine)."""
    n, dim = vectors.shape
    if index_type == "auto":
        index_type = "flat" if n <= FLAT_MAX_CHUNKS else "hnsw"
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    elif index_type == "ivf" and n >= 1000:
        lists = max(1, int(4 * np.sqrt(n)))
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dim), dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        # k-means needs ~40 points a list, not the whole corpus: a sample keeps training to seconds
        sample = vectors[np.random.default_rng(0).choice(n, min(n, 40 * lists), replace=False)]
        index.train(sample)
        index.nprobe = max(1, lists // 16)
    else:  # flat, or ivf on a corpus too small to train it
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


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


@dataclass
class Index:
    """One build, opened read-only and held in memory."""

    path: Path
    manifest: dict
    documents: list[Document]
    paragraph_spans: list[list[Span]]
    chunks: list[IndexedChunk]
    sentence_spans: np.ndarray  # [units, 4]: a unit's span, then its whole sentence's, in the document
    sentence_vectors: np.ndarray
    second_sentence_vectors: np.ndarray | None
    faiss_index: faiss.Index  # nearest-neighbour search over `vectors`
    vectors: np.ndarray
    second_vectors: np.ndarray | None
    lexical: LexicalIndex

    @property
    def build_id(self) -> str:
        return self.path.name

    def paragraph_text(self, doc: int, paragraph: int) -> str:
        start, end = self.paragraph_spans[doc][paragraph - 1]
        return self.documents[doc].text[start:end]


def _read(path: Path, what: str):
    try:
        if what == "json":
            return json.loads(path.read_text(encoding="utf-8"))
        if what == "jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        if what == "npy":
            return np.load(path, allow_pickle=False, mmap_mode="r")
        if what == "lexical":
            return LexicalIndex.load(path)
        return faiss.read_index(str(path))
    except FileNotFoundError:
        raise IndexUnavailable(f"index file missing: {path}; rebuild with `sanad-index build`") from None
    except Exception as exc:  # json, numpy and faiss each raise their own on a damaged file
        raise IndexUnavailable(f"index file damaged: {path} ({exc}); rebuild with `sanad-index build`") from None


def current_build(index_dir: Path) -> Path | None:
    link = index_dir / "current"
    if not link.is_symlink() and not link.exists():
        return None
    return (index_dir / os.readlink(link)).resolve() if link.is_symlink() else link.resolve()


_ANY = object()


def _table(path: Path, rows: list, parse) -> list[list]:
    """Columns of parsed rows; a row that does not parse names its file."""
    try:
        parsed = [parse(row) for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexUnavailable(f"index file damaged: {path} ({exc!r}); rebuild with `sanad-index build`") from None
    return [list(column) for column in zip(*parsed)] if parsed else [[] for _ in range(2)]


def open_index(index_dir: Path, model_id: str | None = None, second_model_id=_ANY) -> Index:
    """The current build; given the model ids in use, refuses one built with other models."""
    path = current_build(index_dir)
    if path is None:
        raise IndexUnavailable(f"no index in {index_dir}: build one with `sanad-index build`")
    manifest = _read(path / MANIFEST, "json")
    if not isinstance(manifest, dict) or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise IndexUnavailable(
            f"{path / MANIFEST}: built by a newer Sanad (format {manifest.get('format_version')}); "
            "rebuild with `sanad-index build`"
        )
    if model_id is not None and manifest.get("model_id") != model_id:
        raise IndexUnavailable(
            f"the index was built with model {manifest.get('model_id')!r} but config names {model_id!r}; "
            "rebuild with `sanad-index build`"
        )
    if second_model_id is not _ANY and manifest.get("second_model_id") != second_model_id:
        raise IndexUnavailable(
            f"the index was built with second model {manifest.get('second_model_id')!r} but config names "
            f"{second_model_id!r}; rebuild with `sanad-index build`"
        )
    doc_rows = _read(path / DOCUMENTS, "jsonl")
    chunk_rows = _read(path / CHUNKS, "jsonl")
    vectors = _read(path / VECTORS, "npy")
    second = _read(path / SECOND, "npy") if manifest.get("second_model_id") else None
    sentence_vectors = _read(path / SENTENCES, "npy")
    units = _read(path / UNITS, "npy")
    second_sentences = _read(path / SECOND_SENTENCES, "npy") if second is not None else None
    faiss_index = _read(path / FAISS, "faiss")
    lexical = _read(path / LEXICAL, "lexical")
    documents, paragraph_spans = _table(
        path / DOCUMENTS,
        doc_rows,
        lambda row: (
            Document(**{k: row[k] for k in ("id", "title", "url", "date", "lang", "text")}),
            [tuple(span) for span in row["paragraphs"]],
        ),
    )
    chunks = _table(
        path / CHUNKS,
        chunk_rows,
        lambda c: (IndexedChunk(c["doc"], c["paragraph"], c["start"], c["end"], c["lang"], tuple(c["sentences"])),),
    )[0]
    n, n_units = manifest.get("chunks"), manifest.get("sentences")
    expected = [
        (DOCUMENTS, len(documents), manifest.get("documents")),
        (CHUNKS, len(chunks), n),
        (FAISS, faiss_index.ntotal, n),
        (VECTORS, len(vectors), n),
        (SENTENCES, len(sentence_vectors), n_units),
        (UNITS, len(units), n_units),
    ]
    if second is not None:
        expected += [(SECOND, len(second), n), (SECOND_SENTENCES, len(second_sentences), n_units)]
    for name, found, wanted in expected:
        if found != wanted:
            raise IndexUnavailable(
                f"index file damaged: {path / name} has {found} rows, the manifest says "
                f"{wanted}; rebuild with `sanad-index build`"
            )
    return Index(
        path,
        manifest,
        documents,
        paragraph_spans,
        chunks,
        units,
        sentence_vectors,
        second_sentences,
        faiss_index,
        vectors,
        second,
        lexical,
    )


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_tree(path: Path) -> None:
    for item in path.rglob("*"):
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())


def write_build(index_dir: Path, manifest: dict, tables: BuildTables, index_type: str, keep_builds: int) -> Path:
    """Write a complete build and make it current; returns its folder."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    t = tables
    try:
        doc_row = {doc.id: i for i, doc in enumerate(t.documents)}
        _write_jsonl(
            tmp / DOCUMENTS,
            (dict(doc.to_dict(), paragraphs=[list(p.span) for p in paragraphs(doc.text)]) for doc in t.documents),
        )
        _write_jsonl(
            tmp / CHUNKS,
            (
                {
                    "doc": doc_row[c.doc_id],
                    "paragraph": c.paragraph,
                    "start": c.start,
                    "end": c.end,
                    "lang": lang,
                    "sentences": list(rows),
                }
                for c, lang, rows in zip(t.chunks, t.chunk_langs, t.chunk_sentence_rows)
            ),
        )
        np.save(tmp / VECTORS, t.vectors.astype(np.float32))
        if t.second_vectors is not None:
            np.save(tmp / SECOND, t.second_vectors.astype(np.float32))
            np.save(tmp / SECOND_SENTENCES, t.second_sentence_vectors.astype(np.float32))
        np.save(tmp / SENTENCES, t.sentence_vectors.astype(np.float32))
        np.save(tmp / UNITS, np.asarray(t.sentence_spans, dtype=np.int64).reshape(-1, 4))
        faiss.write_index(make_faiss_index(t.vectors, index_type), str(tmp / FAISS))
        t.lexical.save(tmp / LEXICAL)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync_tree(tmp)
        final = builds / build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    make_current(index_dir, final)
    prune_builds(index_dir, keep_builds)
    return final


def make_current(index_dir: Path, build: Path) -> None:
    """Point `current` at `build` with one atomic rename."""
    tmp_link = index_dir / f".current-{uuid.uuid4().hex[:6]}"
    os.symlink(build.relative_to(index_dir), tmp_link)
    os.replace(tmp_link, index_dir / "current")


def prune_builds(index_dir: Path, keep: int) -> None:
    """Remove leftovers of interrupted builds and all but the newest `keep` old builds."""
    builds = index_dir / "builds"
    current = current_build(index_dir)
    for leftover in builds.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    old = sorted(
        (p for p in builds.iterdir() if not p.name.startswith(".") and p.resolve() != current),
        key=lambda p: p.name,
        reverse=True,
    )
    for path in old[keep:]:
        shutil.rmtree(path, ignore_errors=True)
