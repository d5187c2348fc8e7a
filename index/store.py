"""The index on disk: each build is a folder (FAISS vectors, chunk table, documents,
sentence vectors, manifest) made current by an atomic symlink swap.

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
from .split import Span, paragraphs

FORMAT_VERSION = 1
FLAT_MAX_CHUNKS = 100_000  # above this, "auto" picks HNSW
MANIFEST, DOCUMENTS, CHUNKS, VECTORS, SENTENCES = (
    "manifest.json",
    "documents.jsonl",
    "chunks.jsonl",
    "vectors.faiss",
    "sentences.npy",
)


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
        index.train(vectors)
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
    sentence_rows: tuple[int, ...]  # rows of Index.sentence_vectors


class Index:
    """One build, opened read-only and held in memory."""

    def __init__(
        self,
        path: Path,
        manifest: dict,
        documents: list[Document],
        paragraph_spans: list[list[Span]],
        chunks: list[IndexedChunk],
        sentence_spans: np.ndarray,
        sentence_vectors: np.ndarray,
        vectors: faiss.Index,
    ):
        self.path = path
        self.manifest = manifest
        self.documents = documents
        self.paragraph_spans = paragraph_spans
        self.chunks = chunks
        self.sentence_spans = sentence_spans  # [S, 2] spans in the chunk's document
        self.sentence_vectors = sentence_vectors
        self.vectors = vectors

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
            return np.load(path, allow_pickle=False)
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


def open_index(index_dir: Path, model_id: str | None = None) -> Index:
    """The current build; with `model_id`, refuses one built with another model."""
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
    doc_rows = _read(path / DOCUMENTS, "jsonl")
    chunk_rows = _read(path / CHUNKS, "jsonl")
    sentence_vectors = _read(path / SENTENCES, "npy")
    vectors = _read(path / VECTORS, "faiss")
    try:
        documents = [
            Document(**{k: row[k] for k in ("id", "title", "url", "date", "lang", "text")}) for row in doc_rows
        ]
        paragraph_spans = [[tuple(s) for s in row["paragraphs"]] for row in doc_rows]
        chunks = [
            IndexedChunk(c["doc"], c["paragraph"], c["start"], c["end"], tuple(c["sentences"])) for c in chunk_rows
        ]
        sentence_spans = np.asarray([s for c in chunk_rows for s in c["sentence_spans"]], dtype=np.int64)
    except (KeyError, TypeError) as exc:
        raise IndexUnavailable(f"index table damaged in {path} ({exc}); rebuild with `sanad-index build`") from None
    counts = (len(documents), len(chunks), vectors.ntotal)
    expected = (manifest.get("documents"), manifest.get("chunks"), manifest.get("chunks"))
    if counts != expected or len(sentence_vectors) != manifest.get("sentences"):
        raise IndexUnavailable(f"index in {path} is inconsistent with its manifest; rebuild with `sanad-index build`")
    return Index(path, manifest, documents, paragraph_spans, chunks, sentence_spans, sentence_vectors, vectors)


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_tree(path: Path) -> None:
    for item in path.iterdir():
        with open(item, "rb") as fh:
            os.fsync(fh.fileno())


def write_build(
    index_dir: Path,
    manifest: dict,
    documents: list[Document],
    chunks: list[Chunk],
    chunk_vectors: np.ndarray,
    sentence_rows: list[tuple[int, ...]],
    sentence_spans: list[Span],
    sentence_vectors: np.ndarray,
    index_type: str,
    keep_builds: int,
) -> Path:
    """Write a complete build and make it current; returns its folder."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    try:
        doc_row = {doc.id: i for i, doc in enumerate(documents)}
        _write_jsonl(
            tmp / DOCUMENTS,
            (dict(doc.to_dict(), paragraphs=[list(p.span) for p in paragraphs(doc.text)]) for doc in documents),
        )
        _write_jsonl(
            tmp / CHUNKS,
            (
                {
                    "doc": doc_row[c.doc_id],
                    "paragraph": c.paragraph,
                    "start": c.start,
                    "end": c.end,
                    "sentences": list(rows),
                    "sentence_spans": [list(sentence_spans[r]) for r in rows],
                }
                for c, rows in zip(chunks, sentence_rows)
            ),
        )
        np.save(tmp / SENTENCES, sentence_vectors.astype(np.float32))
        faiss.write_index(make_faiss_index(chunk_vectors, index_type), str(tmp / VECTORS))
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
