"""Inline buttons. Callback data stays far under Telegram's 64 bytes: the question lives
server-side under a short id, and old ids expire."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index.search import Answer

from .texts import text

MAX_CALLBACK_BYTES = 64


@dataclass
class AskedQuestion:
    question: str
    lang: str
    passages: dict[int, tuple[str, int]]  # rank -> (doc id, paragraph)
    created: float


class QuestionStore:
    """Recent questions by short id, bounded in number and age."""

    def __init__(self, max_items: int = 10_000, ttl_seconds: float = 24 * 3600):
        self._items: OrderedDict[str, AskedQuestion] = OrderedDict()
        self.max_items, self.ttl = max_items, ttl_seconds

    def add(self, answer: Answer, lang: str) -> str:
        key = secrets.token_urlsafe(6)
        passages = {p.rank: (p.doc_id, p.paragraph) for p in answer.passages}
        self._items[key] = AskedQuestion(answer.question, lang, passages, time.monotonic())
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
    """(action, key, value) from callback data, or None for anything malformed or forged."""
    if not data or len(data) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(":")
    if len(parts) != 3 or parts[0] not in ("more", "para") or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


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
