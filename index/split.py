"""Splitting a document into paragraphs and sentences, as character spans of its text.

Arabic-aware: sentences end at . ! ? … and at the Arabic question mark ؟ and semicolon ؛,
and at line breaks; a full stop inside a number (3.5), after an initial (J. Smith), an
acronym (U.S.) or a common abbreviation (Dr., e.g.) does not end a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Span = tuple[int, int]

_END = re.compile(r"[.!?؟؛…]+[\"'”’»)\]]*(?=\s|$)")
_LINE_END = re.compile(r"[.!?؟؛…:]+[\"'”’»)\]]*\s*$")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc eg ie no nos vol fig al approx dept est gen gov lt col sgt capt "
    "jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp univ".split()
)


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, as cited (¶n)
    span: Span
    sentences: tuple[Span, ...]


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _ends_sentence(text: str, match: re.Match) -> bool:
    if match.group()[0] != ".":
        return True
    word_start = text.rfind(" ", 0, match.start()) + 1
    word = text[word_start : match.start()].lstrip("(\"'«“")
    if not word:
        return True
    if "." in word or (len(word) == 1 and word.isalpha()):
        return False  # an acronym (U.S.) or an initial (J.)
    return word.lower() not in _ABBREVIATIONS


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of text[start:end], as trimmed spans of `text`."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    line_start = start
    while line_start < end:
        line_end = text.find("\n", line_start, end)
        line_end = end if line_end == -1 else line_end
        cursor = line_start
        for match in _END.finditer(text, line_start, line_end):
            if _ends_sentence(text, match):
                span = _trimmed(text, cursor, match.end())
                if span:
                    spans.append(span)
                cursor = match.end()
        span = _trimmed(text, cursor, line_end)
        if span:
            spans.append(span)
        line_start = line_end + 1
    return spans


def _ends_line_paragraph(text: str, line: Span) -> bool:
    return bool(_LINE_END.search(text, line[0], line[1]))


def _block_spans(text: str) -> list[Span]:
    """Paragraphs: blocks between blank lines, each cut at its line breaks when it is written one
    paragraph a line (most of its lines end a sentence) rather than wrapped. Decided per block,
    so a blank line after a dateline does not turn the rest of an article into one paragraph."""
    blocks, cursor = [], 0
    for match in re.finditer(r"\n\s*\n", text):
        blocks.append((cursor, match.start()))
        cursor = match.end()
    blocks.append((cursor, len(text)))
    spans = []
    for start, end in blocks:
        lines, line_start = [], start
        for match in re.finditer(r"\n", text[start:end]):
            lines.append((line_start, start + match.start()))
            line_start = start + match.end()
        lines.append((line_start, end))
        breaks = lines[:-1]
        if breaks and 2 * sum(_ends_line_paragraph(text, line) for line in breaks) >= len(breaks):
            spans.extend(lines)
        else:
            spans.append((start, end))
    return [s for s in (_trimmed(text, a, b) for a, b in spans) if s]


def paragraphs(text: str) -> list[Paragraph]:
    result = []
    for start, end in _block_spans(text):
        sentences = sentence_spans(text, start, end)
        if sentences:
            result.append(Paragraph(len(result) + 1, (start, end), tuple(sentences)))
    return result


LONG_SENTENCE_WORDS = 40  # a longer sentence is read, highlighted and quoted by its clauses
_CLAUSE_BREAK = re.compile(r"[،,؛;:]\s+|\s+[-–—]\s+")


def clause_spans(text: str, span: Span, max_words: int = 20) -> list[Span]:
    """A long sentence as runs of its clauses (cut after commas, semicolons, colons and dashes)
    of up to about `max_words`; a short sentence as itself. Long run-on sentences are common
    in Arabic news, and a sentence-level score or highlight needs units of about one idea."""
    start, end = span
    if len(text[start:end].split()) <= max_words:
        return [span]
    cuts = [m.end() for m in _CLAUSE_BREAK.finditer(text, start, end)] + [end]
    pieces, piece_start, previous = [], start, start
    for cut in cuts:
        if previous > piece_start and len(text[piece_start:cut].split()) > max_words:
            pieces.append(_trimmed(text, piece_start, previous))
            piece_start = previous
        previous = cut
    pieces.append(_trimmed(text, piece_start, end))
    return [p for p in pieces if p]
