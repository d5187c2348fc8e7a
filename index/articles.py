"""The article store: every article Sanad knows, whatever brought it (the seeds folder, a JSONL
file, a feed, a link), in one SQLite file under the data folder, or in the PostgreSQL database
of `store.backend: postgres` (so every worker shares it). It is the source of truth: indexes are
built from it, so a rebuild never fetches anything again.

An article is one row, found by its id, its canonical URL, or its text's fingerprint (the same
story under two URLs is one article). Feeds keep what a conditional GET needs (ETag,
Last-Modified), and pages that failed are kept to be tried again at the next update.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .config import Config
from .documents import Document
from .store.database import PostgresDatabase, SQLiteDatabase, open_database

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
    changed TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_fingerprint ON articles (fingerprint);
CREATE INDEX IF NOT EXISTS articles_source ON articles (source);
CREATE TABLE IF NOT EXISTS feeds (url TEXT PRIMARY KEY, etag TEXT, modified TEXT, polled TEXT);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY, source TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (url TEXT PRIMARY KEY, id TEXT NOT NULL);  -- other URLs of one article
"""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def text_fingerprint(text: str) -> str:
    """Of the words alone: spacing and line breaks do not make another article."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:32]


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

    @property
    def fingerprint(self) -> str:
        return text_fingerprint(self.text)

    def document(self) -> Document:
        return Document(self.id, self.title, self.url, self.date, self.lang, self.text)

    def summary(self) -> dict:
        """What `list` shows: everything but the text."""
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "date": self.date,
            "lang": self.lang,
            "source": self.source,
            "fetched": self.fetched,
            "changed": self.changed,
            "chars": len(self.text),
        }


_COLUMNS = "id, url, title, date, lang, source, text, entry_date, fetched, changed"
_MARKS = ", ".join("?" * 11)  # the columns and the fingerprint


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

    def by_fingerprint(self, fingerprint: str) -> Article | None:
        return self._one("fingerprint", fingerprint)

    def put(self, article: Article) -> str:
        """Store an article: "new", "changed" (its text, title or date moved on), "unchanged", or
        "duplicate" (another URL's article with the same text). Matched by id, then URL."""
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
        same = old is not None and (old.text, old.title, old.date) == (article.text, article.title, article.date)
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
        """Remove an article by id or URL; returns it, or None if there was none."""
        article = self.get(key)
        if article is not None:
            with self._db.transaction():
                self._db.execute("DELETE FROM articles WHERE id = ?", (article.id,))
                self._db.execute("DELETE FROM aliases WHERE id = ?", (article.id,))
        return article

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
        Returns (seed id, article id) for each seed left out because another article has its URL."""
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
                    skipped.append((doc.id, holder.id))
                    continue
                # Seeds are stored as they are: the same text in two seed files is two articles.
                if old is None or old.document() != doc:
                    self._write(Article(doc.id, doc.url, doc.title, doc.date, doc.lang, "seeds", doc.text), None)
        return skipped

    def copy_into(self, other: ArticleStore) -> int:
        """Every row of this store (articles, feeds, failures, aliases) into `other`, an empty
        one, in one transaction, articles in the order they were written; returns how many
        articles. How an archive moves from the SQLite file to PostgreSQL."""
        order = "written" if self._db.postgres else "rowid"
        tables = {
            "articles": (f"{_COLUMNS}, fingerprint", order),
            "feeds": ("url, etag, modified, polled", "url"),
            "failures": ("url, source, reason, at", "at"),
            "aliases": ("url, id", "url"),
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

    # Pages that failed: tried again at the next update, even when their feed has not changed.
    def record_failure(self, url: str, source: str, reason: str) -> None:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO failures VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "source = excluded.source, reason = excluded.reason, at = excluded.at",
                (url, source, reason, now()),
            )

    def failures(self) -> list[tuple[str, str]]:
        """(url, source) of every page to try again."""
        return self._db.execute("SELECT url, source FROM failures ORDER BY at").fetchall()
