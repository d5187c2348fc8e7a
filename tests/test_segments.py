"""The index grows in place: new articles go into a new segment, removed and replaced ones
leave the answers at once, and a build of segments answers like one built in one go."""

import dataclasses
import json
import os

from index.build import MAX_SEGMENTS, build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from index.store import current_build, open_store
from tests.conftest import write_config

ARTICLES = {
    "bridge": "The old bridge over the Tigris was closed on Monday for repairs to its pillars.",
    "museum": "The national museum in Baghdad reopened its Assyrian hall after ten years.",
    "dates": "Farmers in Basra expect a record date harvest this autumn after heavy rains.",
    "metro": "Work on the Baghdad metro line is planned to start next spring, the ministry said.",
}


def doc(key: str, text: str | None = None) -> Document:
    return Document(f"{key}.txt", key.title(), f"https://news.example/{key}", "2026-11-20", "en", text or ARTICLES[key])


def segments(config) -> list[dict]:
    return json.loads((current_build(config.index_dir) / "manifest.json").read_text())["segments"]


def test_new_articles_go_into_a_new_segment_and_nothing_else_is_rewritten(tmp_path, models):
    config = load_config(write_config(tmp_path))
    build_index(config, models, [doc("bridge"), doc("museum")])
    [base] = segments(config)
    first_file = current_build(config.index_dir) / base["name"] / "vectors.npy"
    result = build_index(config, models, [doc("bridge"), doc("museum"), doc("dates")])
    assert result.added == 1 and result.embedded == 1 and result.documents == 3
    names = [s["name"] for s in segments(config)]
    assert names[0] == base["name"] and len(names) == 2
    # the base segment is the same file, linked into the new build, not written again
    assert os.path.samefile(first_file, current_build(config.index_dir) / base["name"] / "vectors.npy")
    answer = Searcher(config, models).ask("What harvest do farmers in Basra expect?", k=1)
    assert answer.passages[0].doc_id == "dates.txt" and answer.passages[0].date == "2026-11-20"


def test_a_removed_or_changed_article_leaves_the_answers_at_once(tmp_path, models):
    config = load_config(write_config(tmp_path))
    build_index(config, models, [doc("bridge"), doc("museum"), doc("dates")])
    searcher = Searcher(config, models)
    corrected = "The old bridge over the Tigris reopened on Friday after the repairs ended early."
    result = build_index(config, models, [doc("bridge", corrected), doc("dates")])
    assert (result.added, result.removed, result.documents) == (1, 1, 2)
    assert searcher.reload()
    shown = [p.text for p in searcher.ask("When did the bridge over the Tigris reopen?", k=5).passages]
    assert corrected in shown and ARTICLES["bridge"] not in shown
    assert all(p.doc_id != "museum.txt" for p in searcher.ask("Which museum reopened its Assyrian hall?").passages)
    assert searcher.index.n_documents == 2 and sorted(searcher.index.passage_counts()) == ["bridge.txt", "dates.txt"]


def test_segments_are_merged_when_they_pile_up_and_answers_match_a_single_build(tmp_path, models):
    grown = load_config(write_config(tmp_path / "grown"))
    docs = [doc("bridge")]
    build_index(grown, models, docs)
    for n in range(MAX_SEGMENTS + 1):
        docs = docs + [doc(f"item{n}", f"Report {n}: the council of Najaf approved budget line {n} for schools.")]
        build_index(grown, models, docs)
        assert len(segments(grown)) <= MAX_SEGMENTS
    docs += [doc("museum"), doc("metro")]
    build_index(grown, models, docs)
    single = load_config(write_config(tmp_path / "single"))
    build_index(single, models, docs)
    assert len(segments(single)) == 1
    for question in ("When will the Baghdad metro work start?", "ما الذي وافق عليه مجلس النجف؟", "bridge pillars"):
        a, b = Searcher(grown, models).ask(question, k=5), Searcher(single, models).ask(question, k=5)
        assert [(p.doc_id, p.start, p.end) for p in a.passages] == [(p.doc_id, p.start, p.end) for p in b.passages]
        # BM25's length norm is per segment: scores differ in the fourth decimal at most
        assert max(abs(p.score - q.score) for p, q in zip(a.passages, b.passages)) < 0.005


def test_old_copies_do_not_pile_up_when_much_of_the_archive_changes(tmp_path, models):
    config = load_config(write_config(tmp_path))
    keys = list(ARTICLES)
    build_index(config, models, [doc(k) for k in keys])
    corrected = [doc(k, ARTICLES[k] + " It was corrected later.") for k in keys]
    build_index(config, models, corrected)  # every article replaced: the old segment holds none
    assert [s["documents"] for s in segments(config)] == [4]
    build_index(config, models, corrected[:1])  # three of four removed: the segment is rewritten
    assert [s["documents"] for s in segments(config)] == [1]
    answer = Searcher(config, models).ask("Why was the old bridge over the Tigris closed?", k=5)
    assert [p.doc_id for p in answer.passages] == ["bridge.txt"]


def test_a_build_after_a_merge_finds_the_index_up_to_date(tmp_path, models, store_config):
    config = load_config(write_config(tmp_path, store=store_config))
    named = [dataclasses.replace(doc(k), outlet="Baghdad News") for k in ARTICLES]  # as a feed names them
    build_index(config, models, named)
    store = open_store(config)
    [first] = store.manifest()["segments"]
    build_index(config, models, named[:1])  # three of four removed: the segment is merged
    [merged] = store.manifest()["segments"]
    assert merged["name"] != first["name"] and merged["documents"] == 1
    result = build_index(config, models, named[:1])
    store.close()
    assert result.up_to_date and result.embedded == 0, result.summary()  # nothing taken for changed
