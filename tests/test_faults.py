"""Faults an operator meets: builds killed half way, damaged index files, a data folder that
cannot be written. The index in use always survives, and errors say what is wrong."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from index.build import BuildError, build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from index.store import IndexUnavailable, current_build, open_index
from tests.conftest import ROOT, build_file, write_config


def news(n: int, words: int = 60) -> list[Document]:
    """Documents no cache has seen: every build of them embeds for a while."""
    rng = np.random.default_rng(n)
    vocabulary = "rockets drones Baghdad minister attack investigation embassy militia talks election".split()
    docs = []
    for i in range(n):
        paragraphs = [" ".join(rng.choice(vocabulary, words)) + f" item {i}-{p}-{time.time_ns()}." for p in range(3)]
        docs.append(Document(f"n{i}.txt", f"News {i}", None, None, "en", "\n\n".join(paragraphs)))
    return docs


def write_corpus(path, docs):
    path.write_text("\n".join(json.dumps({"id": d.id, "title": d.title, "text": d.text}) for d in docs), "utf-8")


# Runs `sanad-index build` with the step named in argv[1] made fatal: the process kills itself
# with SIGKILL right after that step, as a power cut or the OOM killer would.
KILL_AT = """
import os, signal, sys
import index.store.embedded as store
step = sys.argv.pop(1)
def fatal(name, real):
    def call(*args, **kwargs):
        result = real(*args, **kwargs)
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return call
store.os.rename = fatal("rename", os.rename)        # the finished build folder moved into place
store.os.symlink = fatal("symlink", os.symlink)     # the new "current" link written aside
store.os.replace = fatal("replace", os.replace)     # the link swapped in
store.shutil.rmtree = fatal("rmtree", store.shutil.rmtree)  # old builds pruned
from index.cli import main
sys.exit(main())
"""


@pytest.mark.parametrize("step", ["rename", "symlink", "replace", "rmtree"])
def test_a_build_killed_at_each_step_of_the_swap_leaves_an_index_that_answers(tmp_path, models, step):
    config_path = write_config(tmp_path, store={"keep_builds": 0})
    config = load_config(config_path)
    build_index(config, models, news(2))
    build_index(config, models, news(2))  # an old build for the pruning to remove
    searcher = Searcher(config, models)
    write_corpus(tmp_path / "corpus.jsonl", news(3))
    args = ["build", "--config", str(config_path), "--corpus", str(tmp_path / "corpus.jsonl")]
    killed = subprocess.run([sys.executable, "-c", KILL_AT, step, *args], cwd=ROOT, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr  # it died at that step
    searcher.reload()  # whatever is current now opens and answers
    assert searcher.ask("rockets over Baghdad", k=1).passages
    finished = subprocess.run([sys.executable, "-m", "index", *args], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert not list((config.index_dir / "builds").glob(".tmp-*"))  # leftovers are cleared
    searcher.reload()
    assert searcher.index.n_documents == 3


def test_a_build_no_reader_could_open_never_becomes_current(tmp_path, models, monkeypatch):
    config = load_config(write_config(tmp_path))
    build_index(config, models, news(2))
    before = current_build(config.index_dir)
    real_save = np.save

    def wrong_rows(path, array, *args, **kwargs):  # a writer bug: the table loses a row
        if str(path).endswith("chunks.npy"):
            array = array[:-1]
        return real_save(path, array, *args, **kwargs)

    monkeypatch.setattr("index.store.embedded.np.save", wrong_rows)
    with pytest.raises(IndexUnavailable, match="chunks.npy"):
        build_index(config, models, news(3))
    assert current_build(config.index_dir) == before
    assert os.listdir(config.index_dir / "builds") == [before.name]


@pytest.mark.parametrize(
    "name, damage",
    [
        ("documents.jsonl", lambda p: p.write_text("")),
        ("vectors.npy", lambda p: p.write_bytes(p.read_bytes()[:-16] + b"\0" * 16)),  # same size, wrong numbers
        ("lexical", lambda p: [f.unlink() for f in p.iterdir()][:1]),
        ("manifest.json", lambda p: p.write_text("[1]")),
    ],
)
def test_build_repairs_a_damaged_current_build_instead_of_calling_it_up_to_date(tmp_path, models, name, damage):
    config = load_config(write_config(tmp_path))
    docs = news(2)
    build_index(config, models, docs)
    damage(build_file(current_build(config.index_dir), name))
    warnings = []
    result = build_index(config, models, docs, warn=warnings.append)
    assert not result.up_to_date and result.embedded == 0  # built again, from the cache
    assert len(warnings) == 1 and "damaged" in warnings[0]
    assert Searcher(config, models).ask("rockets over Baghdad", k=1).passages
    assert build_index(config, models, docs).up_to_date


def test_an_interrupted_build_keeps_the_vectors_it_made(tmp_path, models, monkeypatch):
    config = load_config(write_config(tmp_path))
    docs = news(6)
    monkeypatch.setattr("index.embed.CACHE_BATCH", 4)
    real = models.primary.embed_passages
    calls = []

    def power_cut_on_third_batch(texts, progress=False):
        calls.append(len(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(texts, progress)

    monkeypatch.setattr(models.primary, "embed_passages", power_cut_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, models, docs)
    monkeypatch.setattr(models.primary, "embed_passages", real)
    result = build_index(config, models, docs)
    total = result.chunks
    assert result.embedded == total - 8  # the two batches done before the cut were kept


def test_articles_with_line_separators_build_open_and_answer(tmp_path, models):
    text = (
        "The convoy left Basra\u2028at dawn on Tuesday.\u2029Officials said\u0085 the road was reopened.\n"
        "A bridge near Amara\u2028was closed for repairs."
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "wire.jsonl").write_text(json.dumps({"id": "s1", "title": "Convoy\u2028news", "text": text}), "utf-8")
    config = load_config(write_config(tmp_path))
    from index.build import build_from_config

    build_from_config(config, models, seeds=seeds, warn=lambda _: None)
    answer = Searcher(config, models).ask("When did the convoy leave Basra?")
    assert answer.answered and "at dawn on Tuesday" in answer.passages[0].text
    assert build_from_config(config, models, seeds=seeds, warn=lambda _: None).up_to_date
    # Text that reaches the store without cleaning still round-trips: rows end at "\n" only.
    raw = Document("raw.txt", "Raw\u2028title", None, None, "en", "Line one\u2028still one.\x1cAnd\u0085more.")
    build_index(config, models, [raw])
    assert open_index(config.index_dir).articles()[0] == raw


@pytest.mark.parametrize(
    "name, damage",
    [
        ("manifest.json", lambda p: p.write_text("{")),
        ("chunks.npy", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),
        ("documents.jsonl", lambda p: p.write_text('{"id": 1}\n')),
        ("vectors.faiss", lambda p: p.write_bytes(p.read_bytes()[:100])),
        ("vectors.npy", lambda p: p.write_bytes(p.read_bytes()[:200])),
        ("sentences.npy", lambda p: p.unlink()),
    ],
)
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, models, name, damage):
    config = load_config(write_config(tmp_path))
    build_index(config, models, news(2))
    damage(build_file(current_build(config.index_dir), name))
    with pytest.raises(IndexUnavailable, match=name.replace(".", r"\.") + ".*rebuild|rebuild.*" + name):
        open_index(config.index_dir)


def test_ask_on_a_damaged_index_is_one_line_not_a_traceback(tmp_path, models):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    build_index(config, models, news(2))
    build_file(current_build(config.index_dir), "vectors.faiss").write_bytes(b"\0" * 64)
    result = subprocess.run(
        [sys.executable, "-m", "index", "ask", "--config", str(config_path), "rockets?"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "vectors.faiss" in result.stderr and "Traceback" not in result.stderr


def test_an_unwritable_data_folder_is_a_clear_error(tmp_path, models):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    config = load_config(write_config(tmp_path))
    import dataclasses

    config = dataclasses.replace(config, data_dir=blocker / "data")
    with pytest.raises(BuildError, match="cannot write"):
        build_index(config, models, news(1))


def test_a_full_disk_during_a_build_is_reported_and_changes_nothing(tmp_path, models, monkeypatch):
    config = load_config(write_config(tmp_path))
    build_index(config, models, news(2))
    before = current_build(config.index_dir)
    real_save = np.save

    def disk_full(path, *args, **kwargs):
        if str(path).endswith("sentences.npy"):
            raise OSError(28, "No space left on device", str(path))
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr("index.store.embedded.np.save", disk_full)
    with pytest.raises(OSError, match="No space"):
        build_index(config, models, news(3))
    assert current_build(config.index_dir) == before
    assert not list((config.index_dir / "builds").glob(".tmp-*"))
    assert open_index(config.index_dir).n_documents == 2
    assert os.listdir(config.index_dir / "builds") == [before.name]


def test_a_build_writes_to_the_embedding_cache_while_another_process_reads_it(tmp_path):
    from index.embed import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    cache.put_many({b"k": np.ones(4, dtype=np.float32)})
    reader = sqlite3.connect(tmp_path / "cache.sqlite", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM vectors").fetchone()  # a long read is under way
    cache.put_many({b"other": np.zeros(4, dtype=np.float32)})  # a rollback journal would wait for it, then fail
    assert reader.execute("SELECT COUNT(*) FROM vectors").fetchone() == (1,)  # the reader's snapshot
    reader.execute("COMMIT")
    assert set(EmbeddingCache(tmp_path / "cache.sqlite").get_many([b"k", b"other"])) == {b"k", b"other"}
