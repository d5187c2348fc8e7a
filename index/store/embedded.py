"""The embedded store: the index on disk, searched in memory with FAISS. A build is a folder of
segments made current by an atomic symlink swap:

    <data_dir>/index/builds/<build id>/manifest.json      its segments, where each article is, checksums
    <data_dir>/index/builds/<build id>/<segment>/         documents, chunk table, vectors of both
                                                          models for chunks and sentence units,
                                                          FAISS index, BM25 index
    <data_dir>/index/current -> builds/<build id>

Segments are never changed once written. Adding articles writes one small segment for them and
a new build that hard-links the earlier segments (the way Lucene commits segments): the work is
in proportion to what was added, not to the archive. The manifest names the segment that holds
each article: a copy left in an older segment (removed or replaced) is skipped by searches.
Small segments are merged when they pile up.

A build is written to a hidden folder, renamed when complete, its new segments opened once as
a reader would, and only then made current, so a failed, killed or unreadable build never
touches the current index. The manifest is written last and records a checksum of every file,
so `verify_build` can tell a damaged build from a sound one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import faiss
import numpy as np

from ..documents import Document
from ..lexical import LexicalIndex
from ..split import Span, paragraphs
from .segments import (
    ANY_MODEL,
    LANGS,
    BuildBusy,
    BuildTables,
    CandidateVectors,
    Index,
    IndexUnavailable,
    Segment,
    check_models,
    read_manifest_dict,
)

# "auto" searches a segment exactly up to this many chunks (flat, one thread: 0.9 ms at 10k, 9.5 ms at
# 100k), and with HNSW above (0.3 ms at 100k, 0.2 ms at 1M, recall@10 .999 / .975 on realistic
# vectors): bench/scale.py.
FLAT_MAX_CHUNKS = 50_000
MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
CHUNKS = "chunks.npy"  # per chunk: document row, paragraph, start, end, language, end of its rows in CHUNK_UNITS
CHUNK_UNITS = "chunk_units.npy"  # the sentence-unit rows of every chunk, one run after another
FAISS = "vectors.faiss"  # nearest-neighbour index over VECTORS
VECTORS = "vectors.npy"  # the model's chunk vectors, for exact rescoring
SECOND = "second.npy"  # the second model's chunk vectors
SENTENCES = "sentences.npy"  # the model's vectors of sentence units (sentences, or clauses of long ones)
SECOND_SENTENCES = "second_sentences.npy"  # the second model's vectors of the same units
PROFILES = "profiles.npy"  # the model's vector of each document's headline and lead
UNITS = "units.npy"  # per sentence unit: its span and its whole sentence's span in the document
LEXICAL = "lexical"  # the BM25 index (a folder)


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


class EmbeddedIndex(Index):
    """A build searched in memory: FAISS for the nearest chunks, vectors memory-mapped."""

    def __init__(self, build_id: str, manifest: dict, segments: list[Segment]):
        super().__init__(build_id, manifest, segments)
        self._search_params = None  # FAISS parameters skipping the removed chunks, made on first use

    def nearest(self, vector: np.ndarray, n: int, period: tuple[dt.date, dt.date] | None = None) -> list[set[int]]:
        if period is None:
            if self._search_params is None:
                self._search_params = [_excluding(seg.faiss_index, live) for seg, live in zip(self.segments, self.live)]
            params = self._search_params
        else:
            params = [_excluding(seg.faiss_index, mask) for seg, mask in zip(self.segments, self.masks(period))]
        found = []
        for number, segment in enumerate(self.segments):
            m = min(n, segment.n_chunks)
            if m == 0:
                continue
            scores, ids = segment.faiss_index.search(vector.reshape(1, -1), m, params=params[number])
            found += [(float(d), number, int(i)) for d, i in zip(scores[0], ids[0]) if i >= 0]
        found.sort(reverse=True)
        chosen: list[set[int]] = [set() for _ in self.segments]
        for _, number, i in found[:n]:
            chosen[number].add(i)
        return chosen

    def candidate_vectors(self, chosen: list[np.ndarray]) -> list[CandidateVectors | None]:
        found = []
        for segment, ids in zip(self.segments, chosen):
            if not len(ids):
                found.append(None)
                continue
            rows = np.unique(np.concatenate([segment.unit_rows(int(i)) for i in ids]))
            second = segment.second_vectors is not None
            found.append(
                CandidateVectors(
                    np.asarray(segment.vectors[ids]),
                    np.asarray(segment.second_vectors[ids]) if second else None,
                    rows,
                    np.asarray(segment.sentence_vectors[rows]),
                    np.asarray(segment.second_sentence_vectors[rows]) if second else None,
                )
            )
        return found

    def warm(self, known: set[int]) -> None:
        """Reads their vectors into memory."""
        for segment in self.segments:
            if id(segment) not in known:
                for array in (segment.vectors, segment.sentence_vectors, segment.second_vectors):
                    if array is not None:
                        np.add.reduce(array, axis=None)


def _excluding(index: faiss.Index, live: np.ndarray | None):
    """FAISS search parameters that skip the chunks not `live` (None when all are)."""
    if live is None:
        return None
    removed = faiss.IDSelectorBatch(np.flatnonzero(~live).astype(np.int64))
    selector = faiss.IDSelectorNot(removed)
    if isinstance(index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    elif isinstance(index, faiss.IndexIVF):
        params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    else:
        params = faiss.SearchParameters(sel=selector)
    params.keep_alive = (removed, selector)  # the parameters hold raw pointers to them
    return params


def _read(path: Path, what: str):
    try:
        if what == "json":
            return json.loads(path.read_text(encoding="utf-8"))
        if what == "jsonl":  # rows end at "\n" only: text may hold U+2028 and other line breaks
            return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]
        if what == "npy":  # vectors stay on disk, paged in as searches touch them
            return np.load(path, allow_pickle=False, mmap_mode="r")
        if what == "table":  # small and read row by row: in memory (a memmap row costs microseconds)
            return np.load(path, allow_pickle=False)
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


def _table(path: Path, rows: list, parse) -> list[list]:
    """Columns of parsed rows; a row that does not parse names its file."""
    try:
        parsed = [parse(row) for row in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexUnavailable(f"index file damaged: {path} ({exc!r}); rebuild with `sanad-index build`") from None
    return [list(column) for column in zip(*parsed)] if parsed else [[] for _ in range(2)]


def open_index(
    index_dir: Path, model_id: str | None = None, second_model_id=ANY_MODEL, reuse: Index | None = None
) -> Index:
    """The current build; given the model ids in use, refuses one built with other models.
    Segments already open in `reuse` (the build being replaced) are shared, not read again."""
    path = current_build(index_dir)
    if path is None:
        raise IndexUnavailable(f"no index in {index_dir}: build one with `sanad-index build`")
    return open_build(path, model_id, second_model_id, reuse)


def read_manifest(path: Path) -> dict:
    """A build's manifest, checked; IndexUnavailable says why it cannot be used."""
    return read_manifest_dict(_read(path / MANIFEST, "json"), path, path / MANIFEST)


def open_build(path: Path, model_id: str | None = None, second_model_id=ANY_MODEL, reuse: Index | None = None) -> Index:
    """One build folder, opened and checked as a reader needs it."""
    manifest = read_manifest(path)
    check_models(manifest, model_id, second_model_id)
    # A segment's name is unique to its content (segments are never changed once written).
    known = {seg.name: seg for seg in reuse.segments} if reuse is not None else {}
    second = bool(manifest.get("second_model_id"))
    segments = [
        known.get(meta["name"]) or open_segment(path / meta["name"], meta, second) for meta in manifest["segments"]
    ]
    return EmbeddedIndex(path.name, manifest, segments)


def segment_documents(path: Path) -> tuple[list[Document], list[list[Span]]]:
    """The documents a segment holds (removed ones too), and each one's paragraph spans."""
    fields = ("id", "title", "url", "date", "lang", "text")
    return _table(
        path / DOCUMENTS,
        _read(path / DOCUMENTS, "jsonl"),
        lambda row: (Document(**{k: row[k] for k in fields}), [tuple(span) for span in row["paragraphs"]]),
    )


def open_segment(path: Path, meta: dict, second: bool) -> Segment:
    """One segment folder, its row counts checked against what the build's manifest says."""
    documents, paragraph_spans = segment_documents(path)
    chunk_table = _read(path / CHUNKS, "table")
    chunk_units = _read(path / CHUNK_UNITS, "table")
    vectors = _read(path / VECTORS, "npy")
    second_vectors = _read(path / SECOND, "npy") if second else None
    sentence_vectors = _read(path / SENTENCES, "npy")
    units = _read(path / UNITS, "npy")
    second_sentences = _read(path / SECOND_SENTENCES, "npy") if second else None
    faiss_index = _read(path / FAISS, "faiss")
    lexical = _read(path / LEXICAL, "lexical")
    profiles = _read(path / PROFILES, "npy")
    if chunk_table.ndim != 2 or chunk_table.shape[1] != 6 or chunk_units.ndim != 1:
        raise IndexUnavailable(f"index file damaged: {path / CHUNKS}; rebuild with `sanad-index build`")
    n, n_units = meta.get("chunks"), meta.get("sentences")
    expected = [
        (DOCUMENTS, len(documents), meta.get("documents")),
        (PROFILES, len(profiles), meta.get("documents")),
        (CHUNKS, len(chunk_table), n),
        (FAISS, faiss_index.ntotal, n),
        (VECTORS, len(vectors), n),
        (SENTENCES, len(sentence_vectors), n_units),
        (UNITS, len(units), n_units),
        (CHUNK_UNITS, len(chunk_units), int(chunk_table[-1, 5]) if len(chunk_table) else 0),
    ]
    if second:
        expected += [(SECOND, len(second_vectors), n), (SECOND_SENTENCES, len(second_sentences), n_units)]
    for name, found, wanted in expected:
        if found != wanted:
            raise IndexUnavailable(
                f"index file damaged: {path / name} has {found} rows, the manifest says "
                f"{wanted}; rebuild with `sanad-index build`"
            )
    return Segment(
        path.name,
        documents,
        paragraph_spans,
        chunk_table,
        chunk_units,
        units,
        sentence_vectors,
        second_sentences,
        faiss_index,
        vectors,
        second_vectors,
        lexical,
        profiles,
    )


def _checksums(path: Path, prefix: str = "") -> dict[str, str]:
    """sha256 of every file under `path` but a build's manifest, by path inside the build."""
    sums = {}
    for item in sorted(path.rglob("*")):
        if item.is_file() and item.name != MANIFEST:
            digest = hashlib.sha256()
            with item.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            sums[prefix + item.relative_to(path).as_posix()] = digest.hexdigest()
    return sums


def verify_build(path: Path) -> str | None:
    """What is wrong with a build (a file missing, changed, or unreadable), or None if sound."""
    try:
        manifest = read_manifest(path)
        recorded, found = manifest.get("files") or {}, _checksums(path)
        changed = sorted(name for name in set(recorded) | set(found) if recorded.get(name) != found.get(name))
        if changed or not recorded:
            return f"{path}: files changed since it was built: {', '.join(changed) or MANIFEST}"
        open_build(path)
    except IndexUnavailable as exc:
        return str(exc)
    except OSError as exc:
        return f"{path}: {exc}"
    return None


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _fsync_tree(path: Path) -> None:
    for item in path.rglob("*"):
        if item.is_file():
            with open(item, "rb") as fh:
                os.fsync(fh.fileno())


def write_segment(folder: Path, tables: BuildTables, index_type: str) -> dict:
    """Write one segment's files; returns its entry for the build's manifest."""
    t = tables
    folder.mkdir()
    doc_row = {doc.id: i for i, doc in enumerate(t.documents)}
    _write_jsonl(
        folder / DOCUMENTS,
        # The outlet lives in the build's manifest (its groups), as in PostgreSQL.
        (
            dict(
                {k: v for k, v in doc.to_dict().items() if k != "outlet"},
                paragraphs=[list(p.span) for p in paragraphs(doc.text)],
            )
            for doc in t.documents
        ),
    )
    ends = np.cumsum([len(rows) for rows in t.chunk_sentence_rows], dtype=np.int64)
    table = [
        (doc_row[c.doc_id], c.paragraph, c.start, c.end, LANGS.index(lang), int(end))
        for c, lang, end in zip(t.chunks, t.chunk_langs, ends)
    ]
    np.save(folder / CHUNKS, np.asarray(table, dtype=np.int64).reshape(-1, 6))
    units = [row for rows in t.chunk_sentence_rows for row in rows]
    np.save(folder / CHUNK_UNITS, np.asarray(units, dtype=np.int64))
    np.save(folder / VECTORS, t.vectors.astype(np.float32).reshape(len(t.chunks), -1))
    if t.second_vectors is not None:
        np.save(folder / SECOND, t.second_vectors.astype(np.float32))
        np.save(folder / SECOND_SENTENCES, t.second_sentence_vectors.astype(np.float32))
    np.save(folder / SENTENCES, t.sentence_vectors.astype(np.float32))
    np.save(folder / PROFILES, np.asarray(t.profiles, dtype=np.float32))
    np.save(folder / UNITS, np.asarray(t.sentence_spans, dtype=np.int64).reshape(-1, 4))
    faiss.write_index(make_faiss_index(t.vectors, index_type), str(folder / FAISS))
    t.lexical.save(folder / LEXICAL)
    return {
        "name": folder.name,
        "documents": len(t.documents),
        "chunks": len(t.chunks),
        "sentences": len(t.sentence_vectors),
    }


def _link_segment(source: Path, folder: Path) -> None:
    """A segment of an earlier build, hard-linked (no bytes copied; each build stays a complete
    folder that can be pruned alone). Copied where the filesystem cannot link."""
    for item in sorted(source.rglob("*")):
        target = folder / item.relative_to(source)
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(item, target)
        except OSError:
            shutil.copy2(item, target)


def write_build(
    index_dir: Path,
    manifest: dict,
    new: list[tuple[str, BuildTables]],
    index_type: str,
    keep_builds: int,
    kept: list[dict] = (),
    base_path: Path | None = None,
) -> Path:
    """Write a complete build and make it current; returns its folder. The build holds the
    segments `kept` from the build at `base_path` (linked, not rewritten), then the `new` ones
    (name, tables); the manifest's `articles` says which segment holds each article."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    try:
        files = {}
        old_files = read_manifest(base_path).get("files", {}) if base_path is not None else {}
        for meta in kept:
            _link_segment(base_path / meta["name"], tmp / meta["name"])
            prefix = meta["name"] + "/"
            files.update({k: v for k, v in old_files.items() if k.startswith(prefix)})
        written = []
        for name, tables in new:
            meta = write_segment(tmp / name, tables, index_type)
            files.update(_checksums(tmp / meta["name"], meta["name"] + "/"))
            _fsync_tree(tmp / meta["name"])
            written.append(meta)
        segments = [*kept, *written]
        manifest = dict(
            manifest,
            segments=segments,
            documents=sum(m["documents"] for m in segments),
            chunks=sum(m["chunks"] for m in segments),
            sentences=sum(m["sentences"] for m in segments),
            files=files,
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        with open(tmp / MANIFEST, "rb") as fh:
            os.fsync(fh.fileno())
        final = builds / build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        # A build no reader could open never becomes current; the segments it shares with the
        # current build were checked when they were written.
        second = bool(read_manifest(final).get("second_model_id"))
        for meta in written:
            open_segment(final / meta["name"], meta, second)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
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


class EmbeddedStore:
    """The index as build folders under `index_dir` (the default store: nothing to install)."""

    def __init__(self, index_dir: Path, index_type: str = "auto", keep_builds: int = 2):
        self.index_dir, self.index_type, self.keep_builds = index_dir, index_type, keep_builds

    @property
    def where(self) -> str:
        return str(self.index_dir)

    def current(self) -> str | None:
        path = current_build(self.index_dir)
        return path.name if path is not None else None

    def manifest(self) -> dict | None:
        path = current_build(self.index_dir)
        return read_manifest(path) if path is not None else None

    def verify(self) -> str | None:
        path = current_build(self.index_dir)
        return verify_build(path) if path is not None else f"no index in {self.index_dir}"

    def write(self, manifest: dict, new: list[tuple[str, BuildTables]], kept: list[dict] = ()) -> str:
        base = current_build(self.index_dir) if kept else None
        path = write_build(self.index_dir, manifest, new, self.index_type, self.keep_builds, kept=kept, base_path=base)
        return path.name

    def segment_documents(self, name: str) -> list[Document]:
        return segment_documents(current_build(self.index_dir) / name)[0]

    def open(self, model_id: str | None = None, second_model_id=ANY_MODEL, reuse: Index | None = None) -> Index:
        return open_index(self.index_dir, model_id, second_model_id, reuse)

    def lock(self) -> BuildLock:
        return BuildLock(self.index_dir)

    def close(self) -> None:
        pass


class BuildLock:
    """One build at a time per data folder."""

    def __init__(self, index_dir: Path):
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(index_dir / ".build.lock", "w")
        except OSError as exc:
            raise BuildBusy(f"cannot write to {index_dir}: {exc.strerror}") from None

    def __enter__(self):
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise BuildBusy("another build is running on this data folder") from None
        return self

    def __exit__(self, *exc):
        self._file.close()
