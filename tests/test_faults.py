"""Faults an operator meets: builds killed half way, damaged index files, a data folder that
cannot be written. The index in use always survives, and errors say what is wrong."""

import json
import os
import signal
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
from tests.conftest import ROOT, write_config


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


def test_builds_killed_at_any_point_leave_an_index_that_answers(tmp_path, models):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    build_index(config, models, news(2))
    searcher = Searcher(config, models)
    rng = np.random.default_rng(7)
    build = [
        sys.executable,
        "-m",
        "index",
        "build",
        "--config",
        str(config_path),
        "--corpus",
        str(tmp_path / "corpus.jsonl"),
    ]
    killed = 0
    for delay in sorted(rng.uniform(1.0, 8.0, 3)):
        write_corpus(tmp_path / "corpus.jsonl", news(40))
        running = subprocess.Popen(build, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        running.send_signal(signal.SIGKILL)
        killed += running.wait() == -signal.SIGKILL
        searcher.reload()  # whatever is current now must open
        assert searcher.ask("rockets over Baghdad", k=1).passages
    assert killed, "no build was still running when killed: the test proved nothing"
    finished = subprocess.run(build, cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert not list((config.index_dir / "builds").glob(".tmp-*"))  # leftovers of killed builds are cleared
    searcher.reload()
    assert len(searcher.index.documents) == 40


@pytest.mark.parametrize(
    "name, damage",
    [
        ("manifest.json", lambda p: p.write_text("{")),
        ("chunks.jsonl", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])),
        ("documents.jsonl", lambda p: p.write_text('{"id": 1}\n')),
        ("vectors.faiss", lambda p: p.write_bytes(p.read_bytes()[:100])),
        ("vectors.npy", lambda p: p.write_bytes(p.read_bytes()[:200])),
        ("sentences.npy", lambda p: p.unlink()),
    ],
)
def test_a_damaged_file_is_a_clear_error_naming_it(tmp_path, models, name, damage):
    config = load_config(write_config(tmp_path))
    build_index(config, models, news(2))
    damage(current_build(config.index_dir) / name)
    with pytest.raises(IndexUnavailable, match=name.replace(".", r"\.") + ".*rebuild|rebuild.*" + name):
        open_index(config.index_dir)


def test_ask_on_a_damaged_index_is_one_line_not_a_traceback(tmp_path, models):
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    build_index(config, models, news(2))
    (current_build(config.index_dir) / "vectors.faiss").write_bytes(b"\0" * 64)
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

    monkeypatch.setattr("index.store.np.save", disk_full)
    with pytest.raises(OSError, match="No space"):
        build_index(config, models, news(3))
    assert current_build(config.index_dir) == before
    assert not list((config.index_dir / "builds").glob(".tmp-*"))
    assert len(open_index(config.index_dir).documents) == 2
    assert os.listdir(config.index_dir / "builds") == [before.name]
