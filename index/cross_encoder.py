"""A sentence-transformers CrossEncoder as the sentence stage's scorer (search.matcher): any
model by name or local path, for deployments that have one. It reads the question and each
candidate sentence together, in place of the sentence ranker's signals.
"""

from __future__ import annotations

import numpy as np
import torch

from .matcher import MatcherError


class NamedMatcher:
    """Any sentence-transformers CrossEncoder, by name or local path. Its scores are mapped to
    logits (a reranker that ends in a sigmoid gives probabilities), so that 0 means "even"."""

    def __init__(self, name: str, threads: int = 1):
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(name, device="cpu")
        except Exception as exc:  # a missing path, no internet for a hub name, not a cross-encoder
            raise MatcherError(f"cannot load the cross-encoder {name!r} named by search.matcher: {exc}") from None
        self.name, self.id, self.threads = name, name, threads

    def scores(self, question: str, sentences: list[str]) -> np.ndarray:
        """One logit per sentence (the model reads each pair alone)."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            raw = self.model.predict([(question, s) for s in sentences], batch_size=64, show_progress_bar=False)
        finally:
            torch.set_num_threads(previous)
        raw = np.asarray(raw, dtype=np.float64).reshape(len(sentences), -1)[:, -1]
        if raw.min() >= 0 and raw.max() <= 1:  # probabilities: back to logits
            raw = np.log(np.clip(raw, 1e-6, 1 - 1e-6) / np.clip(1 - raw, 1e-6, 1))
        return raw.astype(np.float32)
