"""The article store: every article Sanad knows, whatever brought it (the seeds folder, a JSONL
file, a feed, a link), in one SQLite file under the data folder, or in the PostgreSQL database
of `store.backend: postgres` (so every worker shares it). It is the source of truth: indexes are
built from it, so a rebuild never fetches anything again.

An article is one row, found by its id, its canonical URL, or its text's fingerprint (the same
story under two URLs is one article). Feeds keep what a conditional GET needs (ETag,
Last-Modified), and pages that failed are kept to be tried again, later each time, until
they are given up. A removed article leaves a tombstone (its URLs and its text's fingerprint),
so that no feed or link brings it back unless someone takes it back on purpose.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Config
from .documents import Document
from .store.database import PostgresDatabase, SQLiteDatabase, open_database
from .stories import outlet_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT UNIQUE,            -- canonical: no tracking parameters, no fragment
    title TEXT NOT NULL,
    date TEXT,                  -- ISO 8601, as published
    lang TEXT NOT NULL,
    source TEXT NOT NULL,       -- seeds, file, link, or the feed's URL
    text TEXT NOT NULL,         -- exactly as extracted
    fingerprint TEXT NOT NULL,  -- of the text: the same story under another URL is a duplicate
    entry_date TEXT,            -- the feed item's own date: when it moves on, the page is fetched again
    fetched TEXT NOT NULL,
    changed TEXT NOT NULL,
    outlet TEXT,                -- who published it, when its source says (else its URL's domain tells)
    event TEXT,                 -- the articles reporting the same happening (stories.py), set by each build
    story TEXT                  -- the events that follow one another
);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source);
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, modified TEXT, polled TEXT);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,  -- tries that failed, in a row
    next_try TEXT                         -- not tried again before this (ISO 8601, UTC)
);
CREATE TABLE IF NOT EXISTS aliases (url TEXT PRIMARY KEY, id TEXT NOT NULL);  -- other URLs of one article
CREATE TABLE IF NOT EXISTS tombstones (
    key TEXT PRIMARY KEY,       -- a canonical URL of a removed article, or its text's fingerprint
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    removed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tombstones_id ON tombstones (id);
"""
# Columns added since the first schema, for SQLite files made before them (PostgreSQL: migrations).
_ADDED_COLUMNS = {
    "failures": {"attempts": "INTEGER NOT NULL DEFAULT 1", "next_try": "TEXT"},
    "articles": {"outlet": "TEXT", "event": "TEXT", "story": "TEXT"},
}


# The longest a failed page waits for its next try: the wait doubles after each failure, and
# unbounded it would soon reach past the year 9999, where next_try no longer sorts as text.
MAX_RETRY_WAIT = 24 * 60 * 60


def now(after_seconds: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + after_seconds))


def text_fingerprint(text: str) -> str:
    """Of the words alone: spacing and line breaks do not make another article."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Tombstone:
    """What is remembered of a removed article."""

    id: str
    title: str
    removed: str  # when (ISO 8601, UTC)


@dataclass(frozen=True)
class Failure:
    url: str
    source: str
    reason: str
    at: str  # the last failure
    attempts: int
    next_try: str | None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("url", "source", "reason", "at", "attempts", "next_try")}


@dataclass(frozen=True)
class Article:
    id: str
    url: str | None
    title: str
    date: str | None
    lang: str
    source: str
    text: str
    entry_date: str | None = None
    fetched: str = ""
    changed: str = ""
    outlet: str | None = None  # as its source names it; None: its URL's domain tells
    event: str | None = None
    story: str | None = None

    @property
    def fingerprint(self) -> str:
        return text_fingerprint(self.text)

    def document(self) -> Document:
        return Document(self.id, self.title, self.url, self.date, self.lang, self.text, self.outlet)

    def summary(self, outlets: dict[str, str] | None = None) -> dict:
        """What `list` shows: everything but the text; the outlet by its display name."""
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "date": self.date,
            "lang": self.lang,
            "source": self.source,
            "outlet": outlet_of(self.document(), outlets or {}) or None,
            "event": self.event,
            "story": self.story,
            "fetched": self.fetched,
            "changed": self.changed,
            "chars": len(self.text),
        }


_COLUMNS = "id, url, title, date, lang, source, text, entry_date, fetched, changed, outlet, event, story"
_FAILURE_COLUMNS = "url, source, reason, at, attempts, next_try"
_MARKS = ", ".join("?" * 14)  # the columns and the fingerprint


def open_articles(config: Config, create: bool = True) -> ArticleStore | None:
    """The article store of `config`'s store; without `create`, None when there is none yet."""
    if config.store.backend != "postgres" and not create and not config.articles_path.exists():
        return None
    return ArticleStore(open_database(config, config.articles_path, SCHEMA))


class ArticleStore:
    """Every write is one transaction, so a kill loses nothing committed. Given a path, a
    SQLite file there."""

    def __init__(self, db: Path | SQLiteDatabase | PostgresDatabase):
        self._db = SQLiteDatabase(db, SCHEMA) if isinstance(db, Path) else db
        if not self._db.postgres:
            for table, columns in _ADDED_COLUMNS.items():
                have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})").fetchall()}
                for column, kind in columns.items():
                    if column not in have:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _one(self, where: str, value) -> Article | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM articles WHERE {where} = ? LIMIT 1", (value,)).fetchone()
        return Article(*row) if row else None

    def get(self, key: str) -> Article | None:
        """An article by id or by canonical URL (its own, or another that led to the same text)."""
        found = self._one("id", key) or self._one("url", key)
        if found is None:
            alias = self._db.execute("SELECT id FROM aliases WHERE url = ?", (key,)).fetchone()
            found = self._one("id", alias[0]) if alias else None
        return found

    def alias(self, url: str, of_url: str) -> None:
        """`url` leads to the article stored under `of_url` (a redirect, a link with another
        form): it is found by either, and the page that failed under `url` is no failure now."""
        article = self.get(of_url)
        if article is not None and url != of_url:
            with self._db.transaction():
                self._db.execute(
                    "INSERT INTO aliases VALUES (?, ?) ON CONFLICT (url) DO UPDATE SET id = excluded.id",
                    (url, article.id),
                )
                self._db.execute("DELETE FROM failures WHERE url = ?", (url,))

    def by_fingerprint(self, fingerprint: str) -> Article | None:
        return self._one("fingerprint", fingerprint)

    def put(self, article: Article, force: bool = False) -> str:
        """Store an article: "new", "changed" (its text, title or date moved on), "unchanged",
        "duplicate" (another URL's article with the same text), or "removed" (it was removed
        before: its URL or its text has a tombstone; not stored unless `force`, which takes it
        back). Matched by id, then URL."""
        if force:
            self.take_back(article.id, article.url, article.fingerprint)
        elif self.tombstone(article.url, article.fingerprint, article.id) is not None:
            return "removed"
        old = self._one("id", article.id) or (self._one("url", article.url) if article.url else None)
        if old is None:
            twin = self.by_fingerprint(article.fingerprint)
            if twin is not None and twin.url != article.url:
                if article.url:
                    with self._db.transaction():
                        self._db.execute(
                            "INSERT INTO aliases VALUES (?, ?) ON CONFLICT (url) DO UPDATE SET id = excluded.id",
                            (article.url, twin.id),
                        )
                        self._db.execute("DELETE FROM failures WHERE url = ?", (article.url,))
                return "duplicate"
        if old is not None:  # its groups stand until the next build; an outlet once named stays named
            article = replace(article, event=old.event, story=old.story, outlet=article.outlet or old.outlet)
        same = old is not None and (old.text, old.title, old.date, old.outlet) == (
            article.text,
            article.title,
            article.date,
            article.outlet,
        )
        with self._db.transaction():
            if old is not None and old.id != article.id:  # known under its URL: it keeps its id
                article = replace(article, id=old.id)
            self._write(article, old.changed if same else None)
            if article.url:
                self._db.execute("DELETE FROM failures WHERE url = ?", (article.url,))
        if old is None:
            return "new"
        return "unchanged" if same else "changed"

    def _write(self, article: Article, changed: str | None) -> None:
        """Insert or replace one row (inside the caller's transaction); `changed` None: now."""
        stamp = now()
        a = replace(article, fetched=stamp, changed=changed or stamp)
        values = (*[getattr(a, column) for column in _COLUMNS.split(", ")], a.fingerprint)
        if self._db.postgres:  # a rewritten row goes last, as SQLite's REPLACE gives it a new rowid
            updates = ", ".join(f"{c} = excluded.{c}" for c in [*_COLUMNS.split(", "), "fingerprint"])
            self._db.execute(
                f"INSERT INTO articles ({_COLUMNS}, fingerprint) VALUES ({_MARKS}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}, written = nextval('articles_written')",
                values,
            )
        else:
            self._db.execute(f"INSERT OR REPLACE INTO articles ({_COLUMNS}, fingerprint) VALUES ({_MARKS})", values)

    def remove(self, key: str) -> Article | None:
        """Remove an article by id or URL, leaving a tombstone of its URLs and its text; returns
        it, or None if there was none."""
        article = self.get(key)
        if article is not None:
            aliases = [url for (url,) in self._db.execute("SELECT url FROM aliases WHERE id = ?", (article.id,))]
            keys = [k for k in (article.url, *aliases, article.fingerprint) if k]
            with self._db.transaction():
                self._db.execute("DELETE FROM articles WHERE id = ?", (article.id,))
                self._db.execute("DELETE FROM aliases WHERE id = ?", (article.id,))
                stamp = now()
                for k in keys:
                    self._db.execute(
                        "INSERT INTO tombstones VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
                        "id = excluded.id, title = excluded.title, removed = excluded.removed",
                        (k, article.id, article.title, stamp),
                    )
                    self._db.execute("DELETE FROM failures WHERE url = ?", (k,))
        return article

    def tombstone(self, *keys: str | None) -> Tombstone | None:
        """The tombstone of a removed article with one of these URLs, fingerprints or ids, if any."""
        for key in keys:
            if key:
                row = self._db.execute(
                    "SELECT id, title, removed FROM tombstones WHERE key = ? OR id = ? LIMIT 1", (key, key)
                ).fetchone()
                if row:
                    return Tombstone(*row)
        return None

    def take_back(self, *keys: str | None) -> int:
        """Forget the removal of the articles with these URLs, fingerprints or ids; returns how
        many removed articles were taken back."""
        ids = {t.id for t in (self.tombstone(k) for k in keys) if t is not None}
        with self._db.transaction():
            for article_id in ids:
                self._db.execute("DELETE FROM tombstones WHERE id = ?", (article_id,))
        return len(ids)

    def articles(self, source: str | None = None, since: str | None = None) -> list[Article]:
        """Articles in the order they were last written, optionally of one source, or dated on or
        after `since` (an ISO date; undated articles are left out then)."""
        query, args = f"SELECT {_COLUMNS} FROM articles WHERE 1=1", []
        if source is not None:
            query += " AND source = ?"
            args.append(source)
        if since is not None:
            query += " AND date IS NOT NULL AND date >= ?"
            args.append(since)
        order = "written" if self._db.postgres else "rowid"  # the last written last
        return [Article(*row) for row in self._db.execute(f"{query} ORDER BY {order}", args).fetchall()]

    def set_groups(self, groups: dict[str, tuple[str, str]]) -> None:
        """Every article's event and story (what the build found), in one transaction."""
        now_set = {row[0]: (row[1], row[2]) for row in self._db.execute("SELECT id, event, story FROM articles")}
        with self._db.transaction():
            for article_id, pair in groups.items():
                if article_id in now_set and now_set[article_id] != tuple(pair):
                    self._db.execute("UPDATE articles SET event = ?, story = ? WHERE id = ?", (*pair, article_id))

    def sources(self) -> dict[str, str]:
        """Every article's source, by id."""
        return dict(self._db.execute("SELECT id, source FROM articles").fetchall())

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def documents(self) -> list[Document]:
        return [a.document() for a in self.articles()]

    def sync_seeds(self, documents: list[Document]) -> list[tuple[str, str]]:
        """Make the articles of source "seeds" exactly `documents` (what the seeds folder and a
        --corpus file hold now), in one transaction; articles from feeds, links and `add` stay.
        Returns (seed id, why) for each seed left out: another article has its URL, or it was
        removed."""
        keep, skipped = {doc.id for doc in documents}, []
        with self._db.transaction():
            for (doc_id,) in self._db.execute("SELECT id FROM articles WHERE source = 'seeds'").fetchall():
                if doc_id not in keep:
                    self._db.execute("DELETE FROM articles WHERE id = ?", (doc_id,))
            for doc in documents:
                old = self._one("id", doc.id)
                if old is not None and old.source != "seeds":
                    continue  # an article added by other means keeps its source
                holder = self._one("url", doc.url) if doc.url and old is None else None
                if holder is not None:
                    skipped.append((doc.id, f"article {holder.id} has its URL"))
                    continue
                gone = self.tombstone(doc.id, doc.url, text_fingerprint(doc.text)) if old is None else None
                if gone is not None:
                    skipped.append(
                        (doc.id, f"removed on {gone.removed[:10]} (`sanad-index add --force` takes it back)")
                    )
                    continue
                # Seeds are stored as they are: the same text in two seed files is two articles.
                if old is None or old.document() != doc:
                    article = Article(
                        doc.id, doc.url, doc.title, doc.date, doc.lang, "seeds", doc.text, outlet=doc.outlet
                    )
                    self._write(article, None)
        return skipped

    def copy_into(self, other: ArticleStore) -> int:
        """Every row of this store (articles, feeds, failures, aliases) into `other`, an empty
        one, in one transaction, articles in the order they were written; returns how many
        articles. How an archive moves from the SQLite file to PostgreSQL."""
        order = "written" if self._db.postgres else "rowid"
        tables = {
            "articles": (f"{_COLUMNS}, fingerprint", order),
            "feeds": ("url, etag, modified, polled", "url"),
            "failures": ("url, source, reason, at, attempts, next_try", "at"),
            "aliases": ("url, id", "url"),
            "tombstones": ("key, id, title, removed", "key"),
        }
        with other._db.transaction():
            for table, (columns, sort) in tables.items():
                marks = ", ".join("?" * len(columns.split(", ")))
                for row in self._db.execute(f"SELECT {columns} FROM {table} ORDER BY {sort}").fetchall():
                    other._db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)
        return self.count()

    # Feeds: what the conditional GET needs.
    def feed_state(self, url: str) -> tuple[str | None, str | None]:
        row = self._db.execute("SELECT etag, modified FROM feeds WHERE url = ?", (url,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def set_feed_state(self, url: str, etag: str | None, modified: str | None) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO feeds VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "etag = excluded.etag, modified = excluded.modified, polled = excluded.polled",
                (url, etag, modified, now()),
            )

    # Pages that failed: tried again at later updates (even when their feed has not changed),
    # waiting twice as long after each failure.
    def record_failure(self, url: str, source: str, reason: str, retry_minutes: float = 0.0) -> int:
        """Count one more failure of `url`; returns how many in a row."""
        row = self._db.execute("SELECT attempts FROM failures WHERE url = ?", (url,)).fetchone()
        attempts = row[0] + 1 if row else 1
        doublings = min(attempts - 1, 16)  # far past the cap from a minute on; no float overflow
        wait = min(retry_minutes * 60 * 2**doublings, MAX_RETRY_WAIT)
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "source = excluded.source, reason = excluded.reason, at = excluded.at, "
                "attempts = excluded.attempts, next_try = excluded.next_try",
                (url, source, reason, now(), attempts, now(wait)),
            )
        return attempts

    def failures(self) -> list[Failure]:
        """Every page that failed and is not stored since, the longest failing first."""
        rows = self._db.execute(f"SELECT {_FAILURE_COLUMNS} FROM failures ORDER BY at").fetchall()
        return [Failure(*row) for row in rows]

    def due_failures(self, max_attempts: int) -> list[Failure]:
        """The failed pages to try again now: their wait is over and they are not given up."""
        return [f for f in self.failures() if f.attempts < max_attempts and (f.next_try or "") <= now()]
