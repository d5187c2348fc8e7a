"""Follows: a chat following a story, or a standing question, and the pushes new articles owe
it. They live with the articles (the article store's database: the SQLite file under the data
folder, or the schema "sanad" of the postgres store), so they survive restarts and every
worker of one bot shares them.

Each article is looked at once for follows: the first time a build holding it is seen, the
pushes it owes are written in the same transaction that marks it seen, so a crash before that
loses nothing (it is looked at again) and one after it repeats nothing. A push is one row per
(follow, article); a worker claims a chat's due rows with one UPDATE that only one worker's
can match, sends, and marks each message's rows sent: with several workers on one database
exactly one sends. A claim left by a worker that died is taken over after CLAIM_SECONDS."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .articles import now
from .config import Config
from .corroboration import Report
from .split import sentence_spans
from .store.database import PostgresDatabase, SQLiteDatabase, open_database

CLAIM_SECONDS = 600  # a claim older than this was left by a worker that died while sending
SEEN_MARK = ""  # a row of `follow_seen` saying the archive was looked at once (nothing before owes pushes)

SCHEMA = """
CREATE TABLE IF NOT EXISTS follows (
    id TEXT PRIMARY KEY,
    chat INTEGER NOT NULL,      -- a private chat (the user) or a group
    kind TEXT NOT NULL,         -- story: the story of an article; question: a standing question
    question TEXT NOT NULL,     -- what chooses the passage quoted (the question asked, or the standing one)
    label TEXT NOT NULL,        -- how /following names it
    lang TEXT NOT NULL,         -- of the pushes
    doc TEXT,                   -- story: the article followed from, whose story it follows
    story TEXT,                 -- story: its id when followed (the article's own, if it is still there, wins)
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS follows_chat ON follows (chat);
CREATE TABLE IF NOT EXISTS follow_seen (article TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS pushes (
    follow TEXT NOT NULL,
    article TEXT NOT NULL,
    chat INTEGER NOT NULL,
    event TEXT,                 -- new articles of one event for one follow are one block
    passage TEXT NOT NULL,      -- what to quote (JSON), chosen when the article was taken in
    due TEXT NOT NULL,          -- when it became due (ISO 8601, UTC)
    state TEXT NOT NULL,        -- due, claimed, sent
    claim TEXT,
    claimed REAL,
    PRIMARY KEY (follow, article)
);
CREATE INDEX IF NOT EXISTS pushes_state ON pushes (state, chat);
"""


@dataclass(frozen=True)
class Follow:
    id: str
    chat: int
    kind: str  # "story" or "question"
    question: str
    label: str
    lang: str
    doc: str | None = None
    story: str | None = None
    created: str = ""


@dataclass(frozen=True)
class Due:
    """A push a new article owes a follow: the passage to quote (Passage.to_dict() plus its
    reports' spans), and its event."""

    follow: str
    article: str
    chat: int
    event: str | None
    passage: dict


_FOLLOW_COLUMNS = "id, chat, kind, question, label, lang, doc, story, created"


def open_follows(config: Config) -> FollowStore:
    return FollowStore(open_database(config, config.articles_path, SCHEMA))


class FollowStore:
    """Follows and their pushes. The bot calls it from worker threads, one call at a time.
    Given a path, a SQLite file there."""

    def __init__(self, db: Path | SQLiteDatabase | PostgresDatabase):
        self._db = SQLiteDatabase(db, SCHEMA) if isinstance(db, Path) else db
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- follows -------------------------------------------------------------------------------

    def add(self, follow: Follow, limit: int) -> tuple[str, Follow]:
        """("added", the follow) with a new id; ("exists", the one already there) when the chat
        follows that story or that question already; ("full", it) at `limit` follows."""
        with self._lock, self._db.transaction():
            have = [self._follow(row) for row in self._db.execute(
                f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE chat = ? ORDER BY created, id", (follow.chat,)
            ).fetchall()]  # fmt: skip
            for old in have:
                same_story = follow.kind == old.kind == "story" and (
                    old.doc == follow.doc or (follow.story is not None and old.story == follow.story)
                )
                same_question = follow.kind == old.kind == "question" and _same(old.question, follow.question)
                if same_story or same_question:
                    return "exists", old
            if len(have) >= limit:
                return "full", follow
            created = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")  # orders a chat's follows
            follow = dataclasses.replace(follow, id=secrets.token_urlsafe(6), created=created)
            self._db.execute(
                f"INSERT INTO follows ({_FOLLOW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(getattr(follow, f) for f in _FOLLOW_COLUMNS.split(", ")),
            )
            return "added", follow

    def of_chat(self, chat: int) -> list[Follow]:
        """A chat's follows, the oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE chat = ? ORDER BY created, id", (chat,)
            ).fetchall()
        return [self._follow(row) for row in rows]

    def get(self, follow_id: str) -> Follow | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE id = ?", (follow_id,)).fetchone()
        return self._follow(row) if row else None

    def all(self) -> list[Follow]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_FOLLOW_COLUMNS} FROM follows ORDER BY created, id").fetchall()
        return [self._follow(row) for row in rows]

    def remove(self, follow_id: str) -> bool:
        """Remove a follow and what it is owed; False if it was gone already (a second tap)."""
        with self._lock, self._db.transaction():
            self._db.execute("DELETE FROM pushes WHERE follow = ?", (follow_id,))
            return self._db.execute("DELETE FROM follows WHERE id = ?", (follow_id,)).rowcount > 0

    def forget_chat(self, chat: int) -> int:
        """Remove every follow of a chat (it blocked the bot, or left it); returns how many."""
        with self._lock, self._db.transaction():
            self._db.execute("DELETE FROM pushes WHERE chat = ?", (chat,))
            return self._db.execute("DELETE FROM follows WHERE chat = ?", (chat,)).rowcount

    @staticmethod
    def _follow(row) -> Follow:
        return Follow(*row[:1], int(row[1]), *row[2:])

    # -- new articles --------------------------------------------------------------------------

    def unseen(self, article_ids: list[str]) -> list[str] | None:
        """Of these articles, those not looked at for follows yet; None the first time ever (the
        archive as it is then owes nothing: call `record` with all of it)."""
        with self._lock:
            seen = {row[0] for row in self._db.execute("SELECT article FROM follow_seen").fetchall()}
        if SEEN_MARK not in seen:
            return None
        return [a for a in article_ids if a not in seen]

    def record(self, seen: list[str], dues: list[Due]) -> None:
        """Mark articles looked at, and write the pushes they owe, in one transaction. A push
        already written (by another worker) stays as it is."""
        stamp = now()
        with self._lock, self._db.transaction():
            for article in [SEEN_MARK, *seen]:
                self._db.execute("INSERT INTO follow_seen VALUES (?) ON CONFLICT (article) DO NOTHING", (article,))
            for d in dues:
                self._db.execute(
                    "INSERT INTO pushes (follow, article, chat, event, passage, due, state) "
                    "SELECT ?, ?, ?, ?, ?, ?, 'due' WHERE EXISTS (SELECT 1 FROM follows WHERE id = ?) "
                    "ON CONFLICT (follow, article) DO NOTHING",
                    (d.follow, d.article, d.chat, d.event, json.dumps(d.passage, ensure_ascii=False), stamp, d.follow),
                )

    # -- delivery ------------------------------------------------------------------------------

    def due_chats(self) -> list[int]:
        """Chats with pushes to send (or whose claim was left by a worker that died)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT chat FROM pushes WHERE state = 'due' OR (state = 'claimed' AND claimed < ?)",
                (time.time() - CLAIM_SECONDS,),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def claim(self, chat: int) -> tuple[str, list[tuple[Follow, str, str | None, dict]]]:
        """Claim a chat's due pushes for this worker: (the claim, [(follow, article, event,
        passage)] in the order they became due); none when another worker claimed them first."""
        token = secrets.token_urlsafe(12)
        with self._lock:
            with self._db.transaction():
                self._db.execute(
                    "UPDATE pushes SET state = 'claimed', claim = ?, claimed = ? "
                    "WHERE chat = ? AND (state = 'due' OR (state = 'claimed' AND claimed < ?))",
                    (token, time.time(), chat, time.time() - CLAIM_SECONDS),
                )
            rows = self._db.execute(
                f"SELECT {', '.join('f.' + c for c in _FOLLOW_COLUMNS.split(', '))}, p.article, p.event, p.passage "
                "FROM pushes p JOIN follows f ON f.id = p.follow WHERE p.claim = ? AND p.state = 'claimed' "
                "ORDER BY p.due, f.created, p.article",
                (token,),
            ).fetchall()
        return token, [(self._follow(row[:9]), row[9], row[10], json.loads(row[11])) for row in rows]

    def sent(self, token: str, keys: list[tuple[str, str]]) -> None:
        """Mark pushes of a claim sent: (follow, article) each."""
        with self._lock, self._db.transaction():
            for follow, article in keys:
                self._db.execute(
                    "UPDATE pushes SET state = 'sent' WHERE follow = ? AND article = ? AND claim = ?",
                    (follow, article, token),
                )

    def release(self, token: str) -> None:
        """Give a claim's unsent pushes back, to be tried again."""
        with self._lock, self._db.transaction():
            self._db.execute(
                "UPDATE pushes SET state = 'due', claim = NULL WHERE claim = ? AND state = 'claimed'", (token,)
            )

    def expire(self, days: float) -> int:
        """Drop pushes due for longer than `days` (the bot was down that long): old news by now."""
        with self._lock, self._db.transaction():
            return self._db.execute(
                "DELETE FROM pushes WHERE state <> 'sent' AND due < ?", (now(-days * 24 * 3600),)
            ).rowcount


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


# -- which new articles owe which follows a push ---------------------------------------------


def passage_dict(passage, reports=()) -> dict:
    """A Passage as a push keeps it (its reports with their spans and links)."""
    found = passage.to_dict()
    found["link"] = passage.link
    found["also_reported_by"] = [dataclasses.asdict(r) for r in (reports or passage.also_reported_by)]
    return found


def passage_of(found: dict):
    """The Passage a push kept."""
    from .search import Passage

    fields = {f.name for f in dataclasses.fields(Passage)}
    reports = tuple(Report(**r) for r in found.get("also_reported_by", []))
    return Passage(
        **{k: v for k, v in found.items() if k in fields and k != "also_reported_by"}, also_reported_by=reports
    )


def _lead_passage(searcher, index, row: int):
    """An article's first paragraph, its first sentence the highlight: what a story's new
    article is quoted by when none of its passages can be shown (each one only asks)."""
    from .search import Passage

    doc = index.documents[row]
    start, end = index.paragraph_spans[row][0]
    sentences = sentence_spans(doc.text[start:end])
    a, b = (start + sentences[0][0], start + sentences[0][1]) if sentences else (start, end)
    return Passage(
        1, doc.id, doc.title, doc.url, doc.date, 1, start, end, doc.text[start:end], doc.text[a:b], 0.0, None,
        searcher.outlet(index, row) or None, index.event_of.get(row), index.story_of.get(row),
    )  # fmt: skip


def due_pushes(searcher, index, follows: list[Follow], rows: list[int]) -> list[Due]:
    """The pushes the new articles at `rows` of `index` owe `follows`: a story's follower one for
    each new article of the story (its passage closest to the question asked), a standing
    question's one for each new article that answers it, by the searcher's own decision over
    the new articles alone."""
    if not rows or not follows:
        return []
    wanted = []  # (follow, the new rows of its story; None for a question: decided below)
    for follow in follows:
        if follow.kind == "story":
            own = index.doc_row.get(follow.doc or "")
            story = (index.story_of.get(own) if own is not None else None) or follow.story
            chosen = [r for r in rows if story and index.story_of.get(r) == story and r != own]
            if chosen:
                wanted.append((follow, chosen))
        else:
            wanted.append((follow, None))
    if not wanted:
        return []
    queries = searcher.queries([follow.question for follow, _ in wanted])
    dues = []
    for (follow, chosen), query in zip(wanted, queries):
        hits = searcher.ranked(query, index, within=chosen or rows)
        if chosen is None:
            relevant = searcher.relevant(query, hits, index)
            if not relevant:
                continue
            hits, answered = searcher.decide(query, hits, index, True)
            if not answered:
                continue
            chosen = list(dict.fromkeys(h.doc for h in relevant))
        best: dict[int, object] = {}
        for hit in hits:
            best.setdefault(hit.doc, hit)  # an article's first hit is its best passage
        shown = [best[row] for row in chosen if row in best]
        reports = dict(zip([h.doc for h in shown], searcher.reports(query, shown, index)))
        for row in chosen:
            hit = best.get(row)
            passage = searcher.passage(index, hit, 1, query) if hit else _lead_passage(searcher, index, row)
            doc_id = index.documents[row].id
            found = passage_dict(passage, reports.get(row, ()))
            dues.append(Due(follow.id, doc_id, follow.chat, index.event_of.get(row), found))
    return dues
