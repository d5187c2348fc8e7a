"""The small tables besides the index (the article store, the bot's buttons) on either store's
database: a SQLite file under the data folder, or the PostgreSQL database of the postgres store
(schema "sanad", made by its migrations). The SQL is written once, with `?` placeholders and
`ON CONFLICT` upserts, which both understand."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..config import Config


class SQLiteDatabase:
    postgres = False

    def __init__(self, path: Path, schema: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        # Any one thread at a time: the bot's buttons are read and written from worker threads.
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(schema)

    def execute(self, sql: str, args=()):
        return self.db.execute(sql, args)

    def transaction(self):
        return self.db

    def close(self) -> None:
        self.db.close()


class PostgresDatabase:
    postgres = True

    def __init__(self, connect):
        import psycopg  # loaded only by those who use PostgreSQL

        self._lost = psycopg.OperationalError
        self._connect = connect
        self.db = connect()  # autocommit: a transaction only where the caller opens one
        self._in_transaction = False

    def execute(self, sql: str, args=()):
        sql = sql.replace("?", "%s")
        try:
            return self.db.execute(sql, args)
        except self._lost:
            if self._in_transaction or not self.db.broken:
                raise
            # The server restarted since: a long-lived store (the bot's buttons) reconnects.
            self.db = self._connect()
            return self.db.execute(sql, args)

    @contextmanager
    def transaction(self):
        if self.db.broken:
            self.db = self._connect()
        self._in_transaction = True
        try:
            with self.db.transaction():
                yield
        finally:
            self._in_transaction = False

    def close(self) -> None:
        self.db.close()


def open_database(config: Config, sqlite_path: Path, schema: str) -> SQLiteDatabase | PostgresDatabase:
    """The postgres store's database, or the SQLite file `sqlite_path` (with `schema` applied)."""
    if config.store.backend == "postgres":
        from .postgres import PostgresStore

        return PostgresDatabase(PostgresStore.from_config(config).connect)
    return SQLiteDatabase(sqlite_path, schema)
