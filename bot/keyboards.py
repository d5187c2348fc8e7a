"""Inline buttons. Callback data stays far under Telegram's 64 bytes: the question lives
server-side (on disk, so buttons survive a restart) under a short id, and old ids expire.

Callback data is chosen by the client, so nothing in it is trusted: "more" is accepted only
for the next page of its question, and "Full ¶" only for a passage that question showed, and
only while the article still holds the quoted text where it was quoted."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index.config import Config
from index.search import Answer, Passage
from index.store.database import PostgresDatabase, SQLiteDatabase, open_database

from .texts import text

MAX_CALLBACK_BYTES = 64
# follow: the story of a passage; unf: a follow, by its id (index/follows.py), with value 0
_DATA = re.compile(r"(more|para|also|time|follow|unf):([A-Za-z0-9_-]{1,16}):([0-9]{1,4})")


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
    created: float  # unix time
    shown: int = 0  # passages shown so far: the next "more" starts here
    passages: dict[int, Quoted] = field(default_factory=dict)  # rank -> what it quoted
    # rank -> the other outlets' sentences shown as its corroboration: (doc id, start, end, digest)
    reports: dict[int, list[tuple[str, int, int, str]]] = field(default_factory=dict)

    def record(self, answer: Answer) -> None:
        self.passages.update({p.rank: Quoted.of(p) for p in answer.passages})
        for p in answer.passages:
            if p.also_reported_by:
                self.reports[p.rank] = [(r.doc_id, *r.span, quote_digest(r.text).hex()) for r in p.also_reported_by]
        self.shown = max([self.shown, *self.passages])


BUTTONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (key TEXT PRIMARY KEY, created REAL NOT NULL, state TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS questions_created ON questions (created);
"""


def open_question_store(config: Config) -> QuestionStore:
    """In the store's database (every worker of one bot answers any button), or in SQLite under
    the data folder."""
    db = open_database(config, config.data_dir / "buttons.sqlite", BUTTONS_SCHEMA)
    return QuestionStore(db, config.bot.button_days * 24 * 3600)


class QuestionStore:
    """Questions behind buttons, by short id: the buttons of a reply keep working after the bot
    restarts, until they are `ttl_seconds` old. Given a path, a SQLite file there. The bot calls
    it from worker threads (never on its event loop), one call at a time."""

    def __init__(self, db: Path | SQLiteDatabase | PostgresDatabase, ttl_seconds: float = 7 * 24 * 3600):
        self.ttl = ttl_seconds
        self._db = SQLiteDatabase(db, BUTTONS_SCHEMA) if isinstance(db, Path) else db
        self._adds = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, answer: Answer, lang: str) -> str:
        key = secrets.token_urlsafe(6)
        asked = AskedQuestion(answer.question, lang, time.time())
        asked.record(answer)
        self.save(key, asked)
        with self._lock:
            self._adds += 1
            if self._adds % 1000 == 1:  # now and then, forget the expired
                with self._db.transaction():
                    self._db.execute("DELETE FROM questions WHERE created < ?", (time.time() - self.ttl,))
        return key

    def save(self, key: str, asked: AskedQuestion) -> None:
        with self._lock:
            self._write(key, asked)

    def get(self, key: str) -> AskedQuestion | None:
        with self._lock:
            return self._read(key)

    def claim_page(self, key: str, offset: int, step: int) -> AskedQuestion | None:
        """The question of `key` if `offset` is its next page, marked as shown up to
        offset + step in the same step, so that a double press gets the page once; None for an
        old, forged or expired one."""
        with self._lock:
            asked = self._read(key)
            if asked is None or asked.shown != offset:
                return None
            asked.shown = offset + step
            self._write(key, asked)
            return asked

    def _write(self, key: str, asked: AskedQuestion) -> None:
        state = {
            "question": asked.question,
            "lang": asked.lang,
            "shown": asked.shown,
            "passages": {
                rank: [q.doc_id, q.paragraph, q.start, q.end, q.digest.hex()] for rank, q in asked.passages.items()
            },
            "reports": asked.reports,
        }
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO questions VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET created = excluded.created, state = excluded.state",
                (key, asked.created, json.dumps(state, ensure_ascii=False)),
            )

    def _read(self, key: str) -> AskedQuestion | None:
        row = self._db.execute("SELECT created, state FROM questions WHERE key = ?", (key,)).fetchone()
        if row is None or time.time() - row[0] > self.ttl:
            return None
        state = json.loads(row[1])
        passages = {
            int(rank): Quoted(doc_id, paragraph, start, end, bytes.fromhex(digest))
            for rank, (doc_id, paragraph, start, end, digest) in state["passages"].items()
        }
        reports = {int(rank): [tuple(r) for r in found] for rank, found in state.get("reports", {}).items()}
        return AskedQuestion(state["question"], state["lang"], row[0], state["shown"], passages, reports)


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


def answer_keyboard(
    answer: Answer, key: str, lang: str, timelines: frozenset[int] = frozenset()
) -> InlineKeyboardMarkup | None:
    """Under a reply: the full paragraph of each passage; the other outlets' sentences of those
    others reported; the timeline of those whose story has several events (ranks in
    `timelines`); following the story of each; and more results."""
    rows = [
        [
            InlineKeyboardButton(text("full_button", lang, n=p.rank), callback_data=encode("para", key, p.rank))
            for p in answer.passages
        ]
    ]
    also = [
        InlineKeyboardButton(text("also_button", lang, n=p.rank), callback_data=encode("also", key, p.rank))
        for p in answer.passages
        if p.also_reported_by
    ]
    timeline = [
        InlineKeyboardButton(text("timeline_button", lang, n=p.rank), callback_data=encode("time", key, p.rank))
        for p in answer.passages
        if p.rank in timelines
    ]
    stories = {}  # one Follow button a story: its first passage's
    for p in answer.passages:
        if p.story:
            stories.setdefault(p.story, p.rank)
    follow = [
        InlineKeyboardButton(text("follow_button", lang, n=rank), callback_data=encode("follow", key, rank))
        for rank in stories.values()
    ]
    rows += [row for row in (also, timeline, follow) if row]
    if answer.more:
        last = answer.passages[-1].rank
        rows.append([InlineKeyboardButton(text("more_button", lang), callback_data=encode("more", key, last))])
    return InlineKeyboardMarkup(rows) if answer.passages else None


def following_keyboard(follow_ids: list[str], lang: str) -> InlineKeyboardMarkup | None:
    """Under /following: an Unfollow button for each, numbered as the list is."""
    buttons = [
        InlineKeyboardButton(text("unfollow_button", lang, n=n), callback_data=encode("unf", follow_id, 0))
        for n, follow_id in enumerate(follow_ids, 1)
    ]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]) if buttons else None


def timeline_keyboard(key: str, ranks: list[int], lang: str) -> InlineKeyboardMarkup | None:
    """Under a push: the Timeline of each of its passages' stories (ranks as numbered)."""
    buttons = [
        InlineKeyboardButton(text("timeline_button", lang, n=n), callback_data=encode("time", key, n)) for n in ranks
    ]
    return InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]) if buttons else None
