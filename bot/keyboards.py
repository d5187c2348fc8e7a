"""Inline buttons. Callback data stays far under Telegram's 64 bytes: the question lives
server-side under a short id, and old ids expire.

Callback data is chosen by the client, so nothing in it is trusted: "more" is accepted only
for the next page of its question, and "Full ¶" only for a passage that question showed, and
only while the article still holds the quoted text where it was quoted."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index.search import Answer, Passage

from .texts import text

MAX_CALLBACK_BYTES = 64
_DATA = re.compile(r"(more|para):([A-Za-z0-9_-]{1,16}):([0-9]{1,4})")


def quote_digest(quoted: str) -> bytes:
    return hashlib.blake2b(quoted.encode("utf-8", "surrogatepass"), digest_size=8).digest()


@dataclass(frozen=True)
class Quoted:
    """Where a shown passage came from, and a digest of what it said."""

    doc_id: str
    paragraph: int
    start: int
    end: int
    digest: bytes

    @classmethod
    def of(cls, p: Passage) -> Quoted:
        return cls(p.doc_id, p.paragraph, p.start, p.end, quote_digest(p.text))


@dataclass
class AskedQuestion:
    question: str
    lang: str
    created: float
    shown: int = 0  # passages shown so far: the next "more" starts here
    passages: dict[int, Quoted] = field(default_factory=dict)  # rank -> what it quoted

    def record(self, answer: Answer) -> None:
        self.passages.update({p.rank: Quoted.of(p) for p in answer.passages})
        self.shown = max([self.shown, *self.passages])


class QuestionStore:
    """Recent questions by short id, bounded in number and age."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = 24 * 3600):
        self._items: OrderedDict[str, AskedQuestion] = OrderedDict()
        self.max_items, self.ttl = max_items, ttl_seconds

    def add(self, answer: Answer, lang: str) -> str:
        key = secrets.token_urlsafe(6)
        asked = AskedQuestion(answer.question, lang, time.monotonic())
        asked.record(answer)
        self._items[key] = asked
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> AskedQuestion | None:
        item = self._items.get(key)
        if item is None or time.monotonic() - item.created > self.ttl:
            self._items.pop(key, None)
            return None
        return item


def encode(action: str, key: str, value: int) -> str:
    data = f"{action}:{key}:{value}"
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    return data


def decode(data: str | None) -> tuple[str, str, int] | None:
    """(action, key, value) from callback data, or None for anything malformed or forged
    (only ASCII digits count: str.isdigit() also accepts "²")."""
    match = _DATA.fullmatch(data or "")
    if not match:
        return None
    return match.group(1), match.group(2), int(match.group(3))


def answer_keyboard(answer: Answer, key: str, lang: str) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(text("full_button", lang, n=p.rank), callback_data=encode("para", key, p.rank))
            for p in answer.passages
        ]
    ]
    if answer.more:
        last = answer.passages[-1].rank
        rows.append([InlineKeyboardButton(text("more_button", lang), callback_data=encode("more", key, last))])
    return InlineKeyboardMarkup(rows) if answer.passages else None
