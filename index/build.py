"""The build pipeline: articles -> chunks -> vectors (cached) -> a new current index."""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .chunk import chunk_document
from .config import Config
from .documents import Document, load_corpus
from .embed import Embedder, EmbeddingCache, embed_cached
from .split import Span
from .store import FORMAT_VERSION, MANIFEST, current_build, write_build


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


def fingerprint(documents: list[Document], embedder: Embedder, config: Config) -> str:
    """Everything a build's content depends on: if this matches, rebuilding changes nothing."""
    digest = hashlib.sha256()
    settings = [
        FORMAT_VERSION,
        embedder.model_id,
        embedder.query_prompt,
        embedder.passage_prompt,
        config.chunking.max_tokens,
        config.chunking.overlap_sentences,
        config.store.index_type,
    ]
    digest.update(json.dumps(settings).encode())
    for doc in documents:
        digest.update(json.dumps(doc.to_dict(), ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()


def _current_fingerprint(index_dir: Path) -> str | None:
    path = current_build(index_dir)
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("fingerprint") if path else None
    except (OSError, ValueError):
        return None


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


def build_index(
    config: Config,
    embedder: Embedder,
    documents: list[Document],
    index_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> BuildResult:
    """Chunk and embed `documents` into a new build under `index_dir` and make it current."""
    began = time.perf_counter()
    index_dir = index_dir or config.index_dir
    if not documents:
        raise BuildError("no documents to index: add articles to the seeds folder or pass --corpus")
    try:
        lock = _BuildLock(index_dir)
    except OSError as exc:
        raise BuildError(f"cannot write to {index_dir}: {exc.strerror}") from None
    with lock:
        stamp = fingerprint(documents, embedder, config)
        if not force and stamp == _current_fingerprint(index_dir):
            manifest = json.loads((current_build(index_dir) / MANIFEST).read_text(encoding="utf-8"))
            return BuildResult(
                len(documents),
                manifest["chunks"],
                0,
                manifest["chunks"],
                time.perf_counter() - began,
                current_build(index_dir),
                up_to_date=True,
            )

        chunks = []
        for doc in documents:
            chunks.extend(
                chunk_document(
                    doc, config.chunking.max_tokens, config.chunking.overlap_sentences, embedder.count_tokens
                )
            )
        # Sentences are embedded once each, even when overlapping chunks share them.
        sentence_row: dict[tuple[str, Span], int] = {}
        chunk_sentence_rows = []
        sentence_texts, sentence_spans = [], []
        text_of = {doc.id: doc.text for doc in documents}
        for chunk in chunks:
            rows = []
            for span in chunk.sentences:
                key = (chunk.doc_id, span)
                if key not in sentence_row:
                    sentence_row[key] = len(sentence_texts)
                    sentence_texts.append(text_of[chunk.doc_id][span[0] : span[1]])
                    sentence_spans.append(span)
                rows.append(sentence_row[key])
            chunk_sentence_rows.append(tuple(rows))

        cache = EmbeddingCache(config.cache_path)
        try:
            log(f"embedding {len(chunks)} chunks and {len(sentence_texts)} sentences")
            chunk_vectors, new_chunks = embed_cached(embedder, cache, [c.text for c in chunks], progress)
            sentence_vectors, _ = embed_cached(embedder, cache, sentence_texts, progress)
        finally:
            cache.close()
        manifest = {
            "format_version": FORMAT_VERSION,
            "model_id": embedder.model_id,
            "dim": int(chunk_vectors.shape[1]),
            "prompts": {"query": embedder.query_prompt, "passage": embedder.passage_prompt},
            "chunking": {
                "max_tokens": config.chunking.max_tokens,
                "overlap_sentences": config.chunking.overlap_sentences,
            },
            "index_type": config.store.index_type,
            "fingerprint": stamp,
            "documents": len(documents),
            "chunks": len(chunks),
            "sentences": len(sentence_texts),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        seconds = time.perf_counter() - began
        manifest["build_seconds"] = round(seconds, 3)
        path = write_build(
            index_dir,
            manifest,
            documents,
            chunks,
            np.asarray(chunk_vectors),
            chunk_sentence_rows,
            sentence_spans,
            np.asarray(sentence_vectors),
            config.store.index_type,
            config.store.keep_builds,
        )
    return BuildResult(
        len(documents), len(chunks), new_chunks, len(chunks) - new_chunks, time.perf_counter() - began, path
    )


def build_from_config(
    config: Config,
    embedder: Embedder,
    seeds: Path | None = None,
    corpus: Path | None = None,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
) -> BuildResult:
    """Build from the seeds folder (config's, or `seeds`) plus an optional jsonl corpus."""
    seeds_dir = seeds if seeds is not None else (None if corpus is not None else config.seeds_dir)
    try:
        documents = load_corpus(seeds_dir, corpus, warn)
    except FileNotFoundError as exc:
        raise BuildError(str(exc)) from None
    return build_index(config, embedder, documents, force=force, progress=progress)
