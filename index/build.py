"""The build pipeline: articles -> chunks -> vectors (cached) -> a new current index."""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .chunk import chunk_document
from .config import Config
from .documents import Document, load_corpus
from .embed import EmbeddingCache, Models, embed_cached
from .lexical import LexicalIndex
from .normalize import detect_language, model_text
from .split import Span, clause_spans
from .store import FORMAT_VERSION, MANIFEST, BuildTables, current_build, verify_build, write_build


class BuildError(RuntimeError):
    """A build that cannot run (no documents, another build running, unwritable folder)."""


@dataclass(frozen=True)
class BuildResult:
    documents: int
    chunks: int
    embedded: int
    cached: int
    seconds: float
    path: Path
    up_to_date: bool = False

    def summary(self) -> str:
        state = "index up to date" if self.up_to_date else "built"
        return (
            f"{state}: {self.documents} documents, {self.chunks} chunks "
            f"({self.embedded} embedded, {self.cached} cached) in {self.seconds:.1f} s"
        )


def fingerprint(documents: list[Document], models: Models, config: Config) -> str:
    """Everything a build's content depends on: if this matches, rebuilding changes nothing."""
    digest = hashlib.sha256()
    m = models.primary
    settings = [
        FORMAT_VERSION,
        m.model_id,
        models.second and models.second.model_id,
        m.query_prompt,
        m.passage_prompt,
        config.chunking.max_tokens,
        config.chunking.overlap_sentences,
        config.store.index_type,
    ]
    digest.update(json.dumps(settings).encode())
    for doc in documents:
        digest.update(json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def _fingerprint_of(build: Path) -> str | None:
    """The fingerprint a build's manifest records; None if it cannot be read."""
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("fingerprint") if isinstance(manifest, dict) else None


class _BuildLock:
    """One build at a time per data folder."""

    def __init__(self, index_dir: Path):
        index_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(index_dir / ".build.lock", "w")

    def __enter__(self):
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise BuildError("another build is running on this data folder") from None
        return self

    def __exit__(self, *exc):
        self._file.close()


def _tables(config: Config, models: Models, documents: list[Document], progress: bool) -> tuple[BuildTables, int]:
    """Chunks, their vectors (from the cache where it has them), sentences and the lexical index.
    Returns the tables and how many chunks had to be embedded."""
    chunks = []
    for doc in documents:
        chunks.extend(
            chunk_document(
                doc, config.chunking.max_tokens, config.chunking.overlap_sentences, models.primary.count_tokens
            )
        )
    # Sentence units (long sentences cut into clauses) are embedded once each, even when
    # overlapping chunks share them.
    sentence_row: dict[tuple[str, Span], int] = {}
    chunk_sentence_rows, sentence_texts, sentence_spans = [], [], []
    text_of = {doc.id: doc.text for doc in documents}
    for chunk in chunks:
        rows = []
        units = [(u, s) for s in chunk.sentences for u in clause_spans(text_of[chunk.doc_id], s)]
        for span, sentence in units:
            key = (chunk.doc_id, span)
            if key not in sentence_row:
                sentence_row[key] = len(sentence_texts)
                sentence_texts.append(text_of[chunk.doc_id][span[0] : span[1]])
                sentence_spans.append((*span, *sentence))
            rows.append(sentence_row[key])
        chunk_sentence_rows.append(tuple(rows))
    chunk_texts = [c.text for c in chunks]
    read_chunks, read_sentences = [model_text(t) for t in chunk_texts], [model_text(t) for t in sentence_texts]
    cache = EmbeddingCache(config.cache_path)
    try:
        vectors, embedded = embed_cached(models.primary, cache, read_chunks, progress)
        second = embed_cached(models.second, cache, read_chunks, progress)[0] if models.second else None
        sentence_vectors = embed_cached(models.primary, cache, read_sentences, progress)[0]
        second_sentences = embed_cached(models.second, cache, read_sentences, progress)[0] if models.second else None
    finally:
        cache.close()
    langs = [detect_language(t) for t in chunk_texts]
    tables = BuildTables(
        documents,
        chunks,
        langs,
        chunk_sentence_rows,
        sentence_spans,
        vectors,
        second,
        sentence_vectors,
        second_sentences,
        LexicalIndex.build(chunk_texts),
    )
    return tables, embedded


def build_index(
    config: Config,
    models: Models,
    documents: list[Document],
    index_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
) -> BuildResult:
    """Chunk and embed `documents` into a new build under `index_dir` and make it current.
    An unchanged corpus is left as it is, unless the current build is damaged: then it is
    built again."""
    began = time.perf_counter()
    index_dir = index_dir or config.index_dir
    if not documents:
        raise BuildError("no documents to index: add articles to the seeds folder or pass --corpus")
    try:
        lock = _BuildLock(index_dir)
    except OSError as exc:
        raise BuildError(f"cannot write to {index_dir}: {exc.strerror}") from None
    with lock:
        stamp = fingerprint(documents, models, config)
        current = current_build(index_dir)
        recorded = _fingerprint_of(current) if current else None
        # Unchanged articles leave the build as it is once it checks out; a build whose manifest
        # cannot be read is checked too, so the operator learns why it is built again.
        if current and not force and recorded in (stamp, None):
            problem = verify_build(current)
            if problem is not None:
                warn(f"the current index is damaged ({problem}); building it again")
            elif recorded == stamp:
                chunks = json.loads((current / MANIFEST).read_text(encoding="utf-8"))["chunks"]
                return BuildResult(len(documents), chunks, 0, chunks, time.perf_counter() - began, current, True)
        tables, embedded = _tables(config, models, documents, progress)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model_id": models.primary.model_id,
            "second_model_id": models.second.model_id if models.second else None,
            "dim": int(tables.vectors.shape[1]),
            "prompts": {"query": models.primary.query_prompt, "passage": models.primary.passage_prompt},
            "chunking": {
                "max_tokens": config.chunking.max_tokens,
                "overlap_sentences": config.chunking.overlap_sentences,
            },
            "index_type": config.store.index_type,
            "fingerprint": stamp,
            "documents": len(documents),
            "chunks": len(tables.chunks),
            "sentences": len(tables.sentence_vectors),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - began, 3),
        }
        path = write_build(index_dir, manifest, tables, config.store.index_type, config.store.keep_builds)
    n = len(tables.chunks)
    return BuildResult(len(documents), n, embedded, n - embedded, time.perf_counter() - began, path)


def build_from_config(
    config: Config,
    models: Models,
    seeds: Path | None = None,
    corpus: Path | None = None,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
) -> BuildResult:
    """Build from the seeds folder (config's, or `seeds`), or a jsonl corpus, or both."""
    seeds_dir = seeds if seeds is not None else (None if corpus is not None else config.seeds_dir)
    try:
        documents = load_corpus(seeds_dir, corpus, warn)
    except FileNotFoundError as exc:
        raise BuildError(str(exc)) from None
    return build_index(config, models, documents, force=force, progress=progress, warn=warn)
