"""Chunking: runs of whole sentences inside one paragraph, up to a token budget, with
sentence overlap. Every chunk is an exact span of its document's text."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from .documents import Document
from .split import Span, paragraphs

# Token counts of a batch of texts, in the embedding model's tokens (no special tokens).
CountTokens = Callable[[Sequence[str]], list[int]]

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    paragraph: int
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]  # spans in the document, inside [start, end)

    def to_dict(self) -> dict:
        return asdict(self)


def whitespace_tokens(texts: Sequence[str]) -> list[int]:
    """A model-free counter: one token per word."""
    return [len(t.split()) for t in texts]


def _cut_long(text: str, span: Span, budget: int, count: CountTokens) -> list[tuple[Span, int]]:
    """A sentence over the budget, cut on word boundaries into pieces that fit."""
    words = [(span[0] + m.start(), span[0] + m.end()) for m in _WORD.finditer(text[span[0] : span[1]])]
    word_tokens = count([text[a:b] for a, b in words])
    pieces, piece_start, piece_tokens = [], 0, 0
    for i, n in enumerate(word_tokens):
        if piece_tokens and piece_tokens + n > budget:
            pieces.append(((words[piece_start][0], words[i - 1][1]), piece_tokens))
            piece_start, piece_tokens = i, 0
        piece_tokens += n
    pieces.append(((words[piece_start][0], words[-1][1]), piece_tokens))
    return pieces


def _units(text: str, spans: Sequence[Span], budget: int, count: CountTokens) -> list[tuple[Span, int]]:
    tokens = count([text[a:b] for a, b in spans])
    units: list[tuple[Span, int]] = []
    for span, n in zip(spans, tokens):
        units.extend(_cut_long(text, span, budget, count) if n > budget else [(span, n)])
    return units


def _next_start(units: list[tuple[Span, int]], first: int, last: int, overlap: int, budget: int) -> int:
    """Repeat up to `overlap` trailing sentences, fewer if they leave no room for a new one."""
    for repeat in range(min(overlap, last - first), 0, -1):
        if sum(n for _, n in units[last + 1 - repeat : last + 2]) <= budget:
            return last + 1 - repeat
    return last + 1


def chunk_document(doc: Document, max_tokens: int, overlap: int, count: CountTokens) -> list[Chunk]:
    chunks: list[Chunk] = []
    for para in paragraphs(doc.text):
        units = _units(doc.text, para.sentences, max_tokens, count)
        first = 0
        while first < len(units):
            last, total = first, units[first][1]
            while last + 1 < len(units) and total + units[last + 1][1] <= max_tokens:
                last += 1
                total += units[last][1]
            start, end = units[first][0][0], units[last][0][1]
            chunks.append(
                Chunk(
                    doc.id, para.number, start, end, doc.text[start:end], tuple(u[0] for u in units[first : last + 1])
                )
            )
            if last + 1 >= len(units):
                break
            first = _next_start(units, first, last, overlap, max_tokens)
    return chunks
