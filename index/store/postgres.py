"""The index in PostgreSQL with pgvector: one database that several bot workers share, backed up,
replicated and scaled by the tools that already run it.

The same builds and segments as the embedded store (embedded.py), as rows: a build is a generation
number with its manifest; a segment's documents, chunks and sentence units are rows keyed by
(segment, row), vectors of both models as `halfvec`. A chunk records the generation that brought
it (`born`) and the one that removed or replaced its article (`died`), so a reader of generation G
asks for `born <= G and (died is null or died > G)`: a new build is written and made current in
one transaction, and a worker still on the previous one keeps seeing exactly that one until it
switches. Nearest chunks come from an HNSW index over the model's chunk vectors (iterative scans:
a period or the removed chunks never cut the candidates short). Each worker keeps in memory
what a question reads row by row (texts, the chunk table, the BM25 index: a few MB at 30k
chunks) and asks the database for vectors only, so every worker ranks exactly as the file store.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import tarfile
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ..config import Config
from ..documents import Document
from ..lexical import LexicalIndex
from ..split import paragraphs
from .segments import (
    ANY_MODEL,
    LANGS,
    BuildBusy,
    BuildTables,
    CandidateVectors,
    Index,
    IndexUnavailable,
    Segment,
    check_models,
    day_number,
    read_manifest_dict,
)

PASSWORD_ENV = "SANAD_POSTGRES_PASSWORD"
URL_ENV = "SANAD_POSTGRES_URL"
SCHEMA = "sanad"
BUILD_LOCK = 0x5A4E4144  # advisory lock key held while a build is written ("SNAD")
# HNSW candidates examined per question: above search.candidates, so the top 30 are recalled
# (bench/postgres.py measures recall@10 against exact search).
EF_SEARCH = 100

# Versioned schema, applied in order by `sanad-index migrate` (and on first use). Never edit a
# released step: add the next one.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE builds (
            generation bigint PRIMARY KEY,
            manifest jsonb NOT NULL,
            created timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE current (
            single boolean PRIMARY KEY DEFAULT true CHECK (single),
            generation bigint NOT NULL
        );
        CREATE TABLE segments (
            id serial PRIMARY KEY,
            name text NOT NULL UNIQUE,
            born bigint NOT NULL,
            died bigint,                -- the first generation without it
            lexical bytea NOT NULL      -- its BM25 index (bm25s files, tar): each worker loads it
        );
        CREATE TABLE documents (
            segment int NOT NULL REFERENCES segments ON DELETE CASCADE,
            row int NOT NULL,
            id text NOT NULL,
            title text NOT NULL,
            url text,
            date text,
            lang text NOT NULL,
            text text NOT NULL,
            paragraphs jsonb NOT NULL,  -- [start, end] of each paragraph in text
            PRIMARY KEY (segment, row)
        );
        CREATE TABLE chunks (
            segment int NOT NULL REFERENCES segments ON DELETE CASCADE,
            row int NOT NULL,
            doc int NOT NULL,           -- row in the segment's documents
            paragraph int NOT NULL,
            start_char int NOT NULL,
            end_char int NOT NULL,
            lang smallint NOT NULL,     -- 0 ar, 1 en, 2 other
            units int[] NOT NULL,       -- its sentence-unit rows
            day int NOT NULL,           -- its article's date as a day number, -1 undated
            born bigint NOT NULL,
            died bigint,                -- the first generation without its article
            vector halfvec NOT NULL,
            second halfvec,
            PRIMARY KEY (segment, row)
        );
        CREATE TABLE units (
            segment int NOT NULL REFERENCES segments ON DELETE CASCADE,
            row int NOT NULL,
            start_char int NOT NULL,
            end_char int NOT NULL,
            sentence_start int NOT NULL,
            sentence_end int NOT NULL,
            vector halfvec NOT NULL,
            second halfvec,
            PRIMARY KEY (segment, row)
        );
        -- The article store (see index/articles.py), shared by every worker.
        CREATE SEQUENCE articles_written;
        CREATE TABLE articles (
            id text PRIMARY KEY,
            url text UNIQUE,
            title text NOT NULL,
            date text,
            lang text NOT NULL,
            source text NOT NULL,
            text text NOT NULL,
            fingerprint text NOT NULL,
            entry_date text,
            fetched text NOT NULL,
            changed text NOT NULL,
            written bigint NOT NULL DEFAULT nextval('articles_written')  -- order of the last writes
        );
        CREATE INDEX articles_fingerprint ON articles (fingerprint);
        CREATE INDEX articles_source ON articles (source);
        CREATE TABLE feeds (url text PRIMARY KEY, etag text, modified text, polled text);
        CREATE TABLE failures (url text PRIMARY KEY, source text NOT NULL, reason text NOT NULL, at text NOT NULL);
        CREATE TABLE aliases (url text PRIMARY KEY, id text NOT NULL);
        """,
    ),
    (
        2,
        """
        -- The questions behind the bot's buttons: any worker answers any button.
        CREATE TABLE questions (key text PRIMARY KEY, created double precision NOT NULL, state text NOT NULL);
        CREATE INDEX questions_created ON questions (created);
        """,
    ),
    (
        3,
        """
        -- Failed pages wait longer after each failure and are given up; removed articles stay removed.
        ALTER TABLE failures ADD COLUMN attempts int NOT NULL DEFAULT 1, ADD COLUMN next_try text;
        CREATE TABLE tombstones (key text PRIMARY KEY, id text NOT NULL, title text NOT NULL, removed text NOT NULL);
        CREATE INDEX tombstones_id ON tombstones (id);
        """,
    ),
    (
        4,
        """
        -- Who published each article, and the event and story it belongs to (index/stories.py).
        ALTER TABLE articles ADD COLUMN outlet text, ADD COLUMN event text, ADD COLUMN story text;
        """,
    ),
    (
        5,
        """
        -- Chats following a story or a standing question, and the pushes new articles owe them
        -- (index/follows.py): claimed by one worker before sending, marked sent after.
        CREATE TABLE follows (
            id text PRIMARY KEY,
            chat bigint NOT NULL,
            kind text NOT NULL,
            question text NOT NULL,
            label text NOT NULL,
            lang text NOT NULL,
            doc text,
            story text,
            created text NOT NULL
        );
        CREATE INDEX follows_chat ON follows (chat);
        CREATE TABLE follow_seen (article text PRIMARY KEY);
        CREATE TABLE pushes (
            follow text NOT NULL,
            article text NOT NULL,
            chat bigint NOT NULL,
            event text,
            passage text NOT NULL,
            due text NOT NULL,
            state text NOT NULL,
            claim text,
            claimed double precision,
            PRIMARY KEY (follow, article)
        );
        CREATE INDEX pushes_state ON pushes (state, chat);
        """,
    ),
    (
        6,
        """
        -- Per segment, the model's vector of each document's headline and lead (an .npy file), for
        -- finding the story a question asks about (index/stories.py).
        ALTER TABLE segments ADD COLUMN profiles bytea;
        """,
    ),
]


class ServerUnavailable(IndexUnavailable):
    """The database cannot be reached, or the connection broke."""


class _Half(bytes):
    """A halfvec in pgvector's binary form (written as is: no per-number conversion)."""

    @classmethod
    def of(cls, vector: np.ndarray) -> _Half:
        return cls(struct.pack(">HH", len(vector), 0) + np.asarray(vector, dtype=">f2").tobytes())


class _HalfDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: _Half) -> bytes:
        return obj


class _HalfLoader(Loader):
    format = Format.BINARY

    def load(self, data) -> np.ndarray:
        return np.frombuffer(data, dtype=">f2", offset=4).astype(np.float32)


def _adapt(conn: psycopg.Connection) -> None:
    info = TypeInfo.fetch(conn, "halfvec")
    if info is None:
        raise IndexUnavailable("the pgvector extension is not installed in this database: run `sanad-index migrate`")
    info.register(conn)
    conn.adapters.register_dumper(_Half, type("HalfDumper", (_HalfDumper,), {"oid": info.oid}))
    conn.adapters.register_loader(info.oid, _HalfLoader)


def connection_url(config: Config) -> str:
    url = os.environ.get(URL_ENV) or config.store.postgres_url
    if not url:
        raise IndexUnavailable(
            f"store.backend is postgres but no database is named: set store.postgres_url in the config or {URL_ENV}"
        )
    return url


def _without_password(url: str) -> str:
    """What may be printed of a database URL: no password, in its user part or its query."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}@{netloc.rsplit('@', 1)[1]}"
    query = "&".join(p for p in parts.query.split("&") if p and p.partition("=")[0].lower() != "password")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


class PostgresStore:
    """The index in a PostgreSQL database (see the module's docstring)."""

    def __init__(
        self, url: str, keep_builds: int = 2, password: str | None = None, pool_size: int = 4, migrate: bool = True
    ):
        self.where = _without_password(url)
        self.keep_builds = keep_builds
        kwargs = {"password": password} if password else {}
        # Every table is in the schema "sanad"; pgvector's types wherever the extension is.
        self._conninfo = psycopg.conninfo.make_conninfo(
            url, connect_timeout=10, options=f"-c search_path={SCHEMA},public", **kwargs
        )
        self._pool: ConnectionPool | None = None
        self._pool_size = pool_size
        if migrate:
            self._ensure_schema()

    @classmethod
    def from_config(cls, config: Config, migrate: bool = True) -> PostgresStore:
        """The config's database; its schema brought up to date first unless not `migrate`."""
        return cls(connection_url(config), config.store.keep_builds, os.environ.get(PASSWORD_ENV), migrate=migrate)

    # -- connections -------------------------------------------------------------------------

    def _configure(self, conn: psycopg.Connection) -> None:
        _adapt(conn)
        conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.commit()

    def _unreachable(self, exc: Exception) -> IndexUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ServerUnavailable(f"cannot use the PostgreSQL database at {self.where}: {reason}")

    @contextmanager
    def connection(self):
        """A pooled connection (checked first: one left from before a server restart is
        replaced), in a transaction committed when the block ends."""
        if self._pool is None:
            self._pool = ConnectionPool(
                self._conninfo,
                min_size=1,
                max_size=self._pool_size,
                configure=self._configure,
                check=ConnectionPool.check_connection,
                open=False,
                name="sanad",
            )
            try:
                self._pool.open(wait=True, timeout=15)
            except PoolTimeout as exc:
                self._pool.close()
                self._pool = None
                try:  # the pool only says it timed out: connect once to say why
                    psycopg.connect(self._conninfo).close()
                except psycopg.Error as reason:
                    raise self._unreachable(reason) from None
                raise self._unreachable(exc) from None
        try:
            with self._pool.connection(timeout=30) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise self._unreachable(exc) from None
        except PoolTimeout as exc:
            raise self._unreachable(exc) from None

    def _retrying(self, work):
        """`work(conn)`, tried again once on a broken connection (the server restarted)."""
        try:
            with self.connection() as conn:
                return work(conn)
        except ServerUnavailable:
            time.sleep(0.5)
            with self.connection() as conn:
                return work(conn)

    def connect(self) -> psycopg.Connection:
        """A connection of its own (autocommit: the caller opens transactions), e.g. for the
        article store."""
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- schema ------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        """Refuse a database of a newer schema; apply the missing steps to an older one."""
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                version = _schema_version(conn)
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None
        latest = MIGRATIONS[-1][0]
        if version > latest:
            raise IndexUnavailable(
                f"the database at {self.where} has schema {version}, newer than this Sanad knows "
                f"({latest}): upgrade Sanad"
            )
        if version < latest:
            self.migrate()

    def migrate(self) -> list[int]:
        """Apply the schema steps the database lacks, each in its own transaction, and the
        pgvector extension first; returns the steps applied."""
        applied = []
        try:
            with psycopg.connect(self._conninfo) as conn:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                    conn.commit()
                except psycopg.errors.FeatureNotSupported as exc:
                    raise IndexUnavailable(
                        f"the pgvector extension is not installed on the server of {self.where} "
                        f"({str(exc).splitlines()[0]}): install pgvector 0.8 or newer"
                    ) from None
                except psycopg.errors.InsufficientPrivilege:
                    raise IndexUnavailable(
                        f"the pgvector extension is not enabled in {self.where} and this user may not enable it: "
                        "ask an administrator to run CREATE EXTENSION vector"
                    ) from None
                conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK + 1,))  # one migration at a time
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(version int PRIMARY KEY, applied timestamptz DEFAULT now())"
                )
                conn.commit()
                for version, sql in MIGRATIONS:
                    if version > _schema_version(conn):
                        conn.execute(sql)
                        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
                        conn.commit()
                        applied.append(version)
                conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK + 1,))
                conn.commit()
        except psycopg.Error as exc:
            raise self._unreachable(exc) from None
        return applied

    # -- what a build is ---------------------------------------------------------------------

    def current(self) -> str | None:
        def read(conn):
            row = conn.execute("SELECT generation FROM current").fetchone()
            return str(row[0]) if row else None

        return self._retrying(read)

    def manifest(self) -> dict | None:
        def read(conn):
            return conn.execute("SELECT b.manifest FROM current c JOIN builds b USING (generation)").fetchone()

        row = self._retrying(read)
        return read_manifest_dict(row[0], self.where) if row else None

    def verify(self) -> str | None:
        """Row counts of every segment against the manifest (the database keeps its own checksums)."""
        try:
            manifest = self.manifest()
            if manifest is None:
                return f"no index in {self.where}"
            with self.connection() as conn:
                for meta in manifest["segments"]:
                    counts = conn.execute(
                        "SELECT (SELECT count(*) FROM documents WHERE segment = s.id),"
                        " (SELECT count(*) FROM chunks WHERE segment = s.id),"
                        " (SELECT count(*) FROM units WHERE segment = s.id), s.profiles IS NOT NULL"
                        " FROM segments s WHERE s.name = %s",
                        (meta["name"],),
                    ).fetchone()
                    if counts is not None and not counts[3]:
                        return f"segment {meta['name']} has no profile vectors"
                    counts = counts[:3] if counts is not None else None
                    wanted = (meta["documents"], meta["chunks"], meta["sentences"])
                    if counts != wanted:
                        return f"segment {meta['name']} holds {counts} rows, the manifest says {wanted}"
        except IndexUnavailable as exc:
            return str(exc)
        return None

    @contextmanager
    def lock(self):
        """A session advisory lock: one build at a time on this database, from any machine."""
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise BuildBusy(str(self._unreachable(exc))) from None
        try:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (BUILD_LOCK,)).fetchone()[0]:
                raise BuildBusy(f"another build is running on {self.where}")
            yield self
        finally:
            conn.close()  # the lock goes with the session, also when this process dies

    # -- writing -----------------------------------------------------------------------------

    def write(self, manifest: dict, new: list[tuple[str, BuildTables]], kept: list[dict] = ()) -> str:
        """The new build's rows, the removed articles' chunks marked, and the build made current:
        one transaction. Builds past `keep_builds` and segments none of them holds are deleted."""
        with self.connection() as conn:
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            conn.execute("SELECT generation FROM current FOR UPDATE")  # one writer at a time
            generation = (conn.execute("SELECT coalesce(max(generation), 0) FROM builds").fetchone()[0]) + 1
            written = [_write_segment(conn, name, tables, generation) for name, tables in new]
            home = {doc_id: entry[0] for doc_id, entry in manifest["articles"].items()}
            kept_names = [meta["name"] for meta in kept]
            for name in kept_names:
                seg = conn.execute("SELECT id FROM segments WHERE name = %s", (name,)).fetchone()[0]
                rows = conn.execute("SELECT row, id FROM documents WHERE segment = %s", (seg,)).fetchall()
                gone = [r for r, doc_id in rows if home.get(doc_id) != name]
                if gone:
                    conn.execute(
                        "UPDATE chunks SET died = %s WHERE segment = %s AND doc = ANY(%s) AND died IS NULL",
                        (generation, seg, gone),
                    )
            # Segments of the previous build that this one does not keep.
            conn.execute(
                "UPDATE chunks SET died = %(g)s WHERE died IS NULL AND segment IN "
                "(SELECT id FROM segments WHERE died IS NULL AND born < %(g)s AND NOT name = ANY(%(kept)s))",
                {"g": generation, "kept": kept_names},
            )
            conn.execute(
                "UPDATE segments SET died = %(g)s WHERE died IS NULL AND born < %(g)s AND NOT name = ANY(%(kept)s)",
                {"g": generation, "kept": kept_names},
            )
            segments = [*kept, *written]
            manifest = dict(
                manifest,
                segments=segments,
                documents=sum(m["documents"] for m in segments),
                chunks=sum(m["chunks"] for m in segments),
                sentences=sum(m["sentences"] for m in segments),
            )
            conn.execute(
                "INSERT INTO builds (generation, manifest) VALUES (%s, %s)", (generation, json.dumps(manifest))
            )
            conn.execute(
                "INSERT INTO current (generation) VALUES (%s) "
                "ON CONFLICT (single) DO UPDATE SET generation = EXCLUDED.generation",
                (generation,),
            )
            if new:
                _ensure_vector_index(conn, new[0][1].vectors.shape[1])
            # Builds kept besides the current one; the segments none of them holds go.
            oldest = conn.execute(
                "SELECT coalesce(min(generation), %s) FROM (SELECT generation FROM builds "
                "WHERE generation < %s ORDER BY generation DESC LIMIT %s) kept",
                (generation, generation, self.keep_builds),
            ).fetchone()[0]
            conn.execute("DELETE FROM builds WHERE generation < %s", (oldest,))
            conn.execute("DELETE FROM segments WHERE died IS NOT NULL AND died <= %s", (oldest,))
        return str(generation)

    def segment_documents(self, name: str) -> list[Document]:
        with self.connection() as conn:
            seg = conn.execute("SELECT id FROM segments WHERE name = %s", (name,)).fetchone()
            if seg is None:
                raise IndexUnavailable(f"segment {name} is missing from {self.where}; rebuild with `sanad-index build`")
            return [doc for doc, _ in _documents(conn, seg[0])]

    # -- reading -----------------------------------------------------------------------------

    def open(self, model_id: str | None = None, second_model_id=ANY_MODEL, reuse: Index | None = None) -> Index:
        def read(conn):
            row = conn.execute(
                "SELECT c.generation, b.manifest FROM current c JOIN builds b USING (generation)"
            ).fetchone()
            if row is None:
                raise IndexUnavailable(f"no index in {self.where}: build one with `sanad-index build`")
            generation, manifest = row
            manifest = read_manifest_dict(manifest, self.where)
            check_models(manifest, model_id, second_model_id)
            known = {seg.name: seg for seg in reuse.segments} if reuse is not None else {}
            ids = dict(
                conn.execute(
                    "SELECT name, id FROM segments WHERE name = ANY(%s)",
                    ([m["name"] for m in manifest["segments"]],),
                ).fetchall()
            )
            segments = []
            for meta in manifest["segments"]:
                if meta["name"] not in ids:
                    raise IndexUnavailable(f"segment {meta['name']} is missing from {self.where}; rebuild")
                segments.append(known.get(meta["name"]) or _read_segment(conn, ids[meta["name"]], meta))
            return PostgresIndex(str(generation), manifest, segments, self, generation, ids)

        return self._retrying(read)


def _schema_version(conn: psycopg.Connection) -> int:
    if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def _ensure_vector_index(conn: psycopg.Connection, dim: int) -> None:
    """The HNSW index over the model's chunk vectors, made once per vector size (pgvector
    indexes a typed expression: the column itself has no size)."""
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS chunks_vector_{dim} ON chunks "
        f"USING hnsw ((vector::halfvec({dim})) halfvec_ip_ops) WITH (m = 16, ef_construction = 64)"
    )


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name)
    return buffer.getvalue()


def _write_segment(conn: psycopg.Connection, name: str, t: BuildTables, generation: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t.lexical.save(Path(tmp) / "lexical")
        lexical = _pack(Path(tmp) / "lexical")
    profiles = io.BytesIO()
    np.save(profiles, np.asarray(t.profiles, dtype=np.float32))
    seg = conn.execute(
        "INSERT INTO segments (name, born, lexical, profiles) VALUES (%s, %s, %s, %s) RETURNING id",
        (name, generation, lexical, profiles.getvalue()),
    ).fetchone()[0]
    doc_row = {doc.id: i for i, doc in enumerate(t.documents)}
    with conn.cursor().copy(
        "COPY documents (segment, row, id, title, url, date, lang, text, paragraphs) FROM STDIN"
    ) as copy:
        for i, doc in enumerate(t.documents):
            spans = json.dumps([list(p.span) for p in paragraphs(doc.text)])
            copy.write_row((seg, i, doc.id, doc.title, doc.url, doc.date, doc.lang, doc.text, spans))
    days = [day_number(doc.date) for doc in t.documents]
    second = t.second_vectors is not None
    with conn.cursor().copy(
        "COPY chunks (segment, row, doc, paragraph, start_char, end_char, lang, units, day, born, vector, second)"
        " FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(
            ["int4", "int4", "int4", "int4", "int4", "int4", "int2", "int4[]", "int4", "int8", "halfvec", "halfvec"]
        )
        for i, (c, lang, rows) in enumerate(zip(t.chunks, t.chunk_langs, t.chunk_sentence_rows)):
            doc = doc_row[c.doc_id]
            copy.write_row(
                (
                    seg,
                    i,
                    doc,
                    c.paragraph,
                    c.start,
                    c.end,
                    LANGS.index(lang),
                    list(rows),
                    days[doc],
                    generation,
                    _Half.of(t.vectors[i]),
                    _Half.of(t.second_vectors[i]) if second else None,
                )
            )
    with conn.cursor().copy(
        "COPY units (segment, row, start_char, end_char, sentence_start, sentence_end, vector, second)"
        " FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int4", "int4", "int4", "int4", "int4", "halfvec", "halfvec"])
        for i, span in enumerate(t.sentence_spans):
            copy.write_row(
                (
                    seg,
                    i,
                    *span,
                    _Half.of(t.sentence_vectors[i]),
                    _Half.of(t.second_sentence_vectors[i]) if second else None,
                )
            )
    return {"name": name, "documents": len(t.documents), "chunks": len(t.chunks), "sentences": len(t.sentence_spans)}


def _documents(conn: psycopg.Connection, seg: int) -> list[tuple[Document, list]]:
    rows = conn.execute(
        "SELECT id, title, url, date, lang, text, paragraphs FROM documents WHERE segment = %s ORDER BY row",
        (seg,),
    ).fetchall()
    return [(Document(*row[:6]), [tuple(span) for span in row[6]]) for row in rows]


def _read_segment(conn: psycopg.Connection, seg: int, meta: dict) -> Segment:
    """What a worker keeps of a segment: everything but the chunks' and sentences' vectors."""
    docs = _documents(conn, seg)
    rows = conn.execute(
        "SELECT doc, paragraph, start_char, end_char, lang, units FROM chunks WHERE segment = %s ORDER BY row",
        (seg,),
    ).fetchall()
    units = [r for row in rows for r in row[5]]
    ends = np.cumsum([len(row[5]) for row in rows], dtype=np.int64)
    table = np.array([(*row[:5], end) for row, end in zip(rows, ends)], dtype=np.int64).reshape(-1, 6)
    spans = np.array(
        conn.execute(
            "SELECT start_char, end_char, sentence_start, sentence_end FROM units WHERE segment = %s ORDER BY row",
            (seg,),
        ).fetchall(),
        dtype=np.int64,
    ).reshape(-1, 4)
    blob, profiles = conn.execute("SELECT lexical, profiles FROM segments WHERE id = %s", (seg,)).fetchone()
    profiles = np.load(io.BytesIO(profiles), allow_pickle=False) if profiles is not None else np.zeros((0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        lexical = LexicalIndex.load(Path(tmp))
    found = (len(docs), len(table), len(spans), len(profiles))
    wanted = (meta.get("documents"), meta.get("chunks"), meta.get("sentences"), meta.get("documents"))
    if found != wanted:
        raise IndexUnavailable(f"segment {meta['name']} holds {found} rows, the manifest says {wanted}; rebuild")
    return Segment(
        meta["name"],
        [doc for doc, _ in docs],
        [spans_ for _, spans_ in docs],
        table,
        np.asarray(units, dtype=np.int64),
        spans,
        None,
        None,
        None,
        None,
        None,
        lexical,
        profiles,
    )


class PostgresIndex(Index):
    """A build served from the database: nearest chunks by its HNSW index, vectors of the
    candidates fetched per question; the rest in memory, as in the embedded store."""

    def __init__(self, build_id, manifest, segments, store: PostgresStore, generation: int, ids: dict[str, int]):
        super().__init__(build_id, manifest, segments)
        self._store, self._generation = store, generation
        self._number = {ids[seg.name]: number for number, seg in enumerate(segments)}
        self._ids = [ids[seg.name] for seg in segments]

    def nearest(self, vector: np.ndarray, n: int, period: tuple[dt.date, dt.date] | None = None) -> list[set[int]]:
        dim = len(vector)
        where = "born <= %(g)s AND (died IS NULL OR died > %(g)s)"
        args = {"g": self._generation, "q": _Half.of(vector), "n": n}
        if period is not None:
            where += " AND (day < 0 OR day BETWEEN %(first)s AND %(last)s)"
            args.update(first=period[0].toordinal(), last=period[1].toordinal())
        sql = (
            f"SELECT segment, row FROM chunks WHERE {where} "
            f"ORDER BY vector::halfvec({dim}) <#> %(q)b::halfvec({dim}) LIMIT %(n)s"
        )
        rows = self._store._retrying(lambda conn: conn.execute(sql, args).fetchall())
        chosen: list[set[int]] = [set() for _ in self.segments]
        for seg, row in rows:
            if seg in self._number:
                chosen[self._number[seg]].add(row)
        return chosen

    def candidate_vectors(self, chosen: list[np.ndarray]) -> list[CandidateVectors | None]:
        segs = [self._ids[number] for number, ids in enumerate(chosen) for _ in ids]
        rows = [int(i) for ids in chosen for i in ids]
        unit_rows = [
            np.unique(np.concatenate([seg.unit_rows(int(i)) for i in ids])) if len(ids) else np.zeros(0, np.int64)
            for seg, ids in zip(self.segments, chosen)
        ]
        unit_segs = [self._ids[number] for number, r in enumerate(unit_rows) for _ in r]
        unit_flat = [int(r) for rows_ in unit_rows for r in rows_]

        def fetch(conn):
            cur = conn.cursor(binary=True)
            chunks = cur.execute(
                "SELECT c.segment, c.row, c.vector, c.second FROM chunks c "
                "JOIN unnest(%s::int[], %s::int[]) AS w(segment, row) USING (segment, row)",
                (segs, rows),
            ).fetchall()
            units = cur.execute(
                "SELECT u.segment, u.row, u.vector, u.second FROM units u "
                "JOIN unnest(%s::int[], %s::int[]) AS w(segment, row) USING (segment, row)",
                (unit_segs, unit_flat),
            ).fetchall()
            return chunks, units

        chunks, units = self._store._retrying(fetch)
        chunk_of = {(seg, row): (v, s) for seg, row, v, s in chunks}
        unit_of = {(seg, row): (v, s) for seg, row, v, s in units}
        found = []
        for number, ids in enumerate(chosen):
            if not len(ids):
                found.append(None)
                continue
            seg = self._ids[number]
            c = [chunk_of[(seg, int(i))] for i in ids]
            u = [unit_of[(seg, int(r))] for r in unit_rows[number]]
            second = c[0][1] is not None
            found.append(
                CandidateVectors(
                    np.stack([v for v, _ in c]),
                    np.stack([s for _, s in c]) if second else None,
                    unit_rows[number],
                    np.stack([v for v, _ in u]),
                    np.stack([s for _, s in u]) if second else None,
                )
            )
        return found
