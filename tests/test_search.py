"""The engine end to end on the seed article: the real model, a real FAISS index on disk."""

import json

import numpy as np
import pytest

from index.build import BuildError, build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from index.store import IndexUnavailable, current_build, open_index
from tests.conftest import ROOT, build_file, write_config

LAUNCH_SITE = "شمال شرقي بغداد"
SEED_FILE = ROOT / "seeds" / "000_633aca95fbe32a42.txt"


@pytest.mark.parametrize("question", ["من أين انطلقت الطائرات المسيرة؟", "Where were the drones launched from?"])
def test_the_launch_site_paragraph_is_cited_for_arabic_and_english(seed_searcher, question):
    answer = seed_searcher.ask(question)
    assert answer.answered
    cited = [p for p in answer.passages if LAUNCH_SITE in p.text]
    assert cited, [p.text[:40] for p in answer.passages]
    published = SEED_FILE.read_text(encoding="utf-8")  # the article as it lies in seeds/
    for p in answer.passages:
        assert published[p.start : p.end] == p.text  # quoted verbatim, span exact
        assert p.highlight in p.text
    assert cited[0].paragraph == 13 and cited[0].doc_id == "000_633aca95fbe32a42.txt"


def test_language_is_detected(seed_searcher):
    assert seed_searcher.ask("من وصل إلى بغداد؟").lang == "ar"
    assert seed_searcher.ask("Who arrived in Baghdad?").lang == "en"


def test_more_continues_where_the_first_page_ended(seed_searcher):
    first = seed_searcher.ask("Who condemned the attack?", k=2)
    second = seed_searcher.ask("Who condemned the attack?", k=2, offset=2)
    assert [p.rank for p in second.passages] == [3, 4]
    assert not {(p.start, p.end) for p in first.passages} & {(p.start, p.end) for p in second.passages}


def test_an_empty_question_is_not_answered(seed_searcher):
    assert not seed_searcher.ask("   ").answered


TEXT = "Rockets hit the intelligence service building."


def small_docs(text=TEXT):
    return [Document("a.txt", "A", None, None, "en", text)]


def test_rebuilding_unchanged_text_embeds_nothing_and_new_text_only(tmp_path, models):
    config = load_config(write_config(tmp_path))
    first = build_index(config, models, small_docs())
    again = build_index(config, models, small_docs(), force=True)
    assert (first.embedded, again.embedded, again.cached) == (1, 0, 1)
    changed = build_index(config, models, small_docs(f"{TEXT}\n\nA new paragraph here."))
    assert changed.embedded == 1 and changed.cached == 1
    unchanged = build_index(config, models, small_docs(f"{TEXT}\n\nA new paragraph here."))
    assert unchanged.up_to_date and unchanged.embedded == 0


def test_a_failed_build_leaves_the_current_index_serving(tmp_path, models, monkeypatch):
    config = load_config(write_config(tmp_path))
    build_index(config, models, small_docs())
    before = current_build(config.index_dir)
    searcher = Searcher(config, models)

    def explode(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("index.store.embedded.faiss.write_index", explode)
    with pytest.raises(OSError):
        build_index(config, models, small_docs("Entirely different text about rockets."))
    assert current_build(config.index_dir) == before
    assert not list((config.index_dir / "builds").glob(".tmp-*"))
    assert not searcher.reload()
    assert searcher.ask("What hit the intelligence building?", k=1).passages[0].doc_id == "a.txt"


def test_reload_switches_to_a_new_build_and_old_builds_are_pruned(tmp_path, models):
    config = load_config(write_config(tmp_path, store={"keep_builds": 1}))
    build_index(config, models, small_docs())
    searcher = Searcher(config, models)
    for n in range(3):
        build_index(config, models, small_docs(f"Version {n} of the article about rockets."))
    assert searcher.reload()
    assert "Version 2" in searcher.index.articles()[0].text
    assert len(list((config.index_dir / "builds").iterdir())) == 2  # current + 1 kept


def test_an_index_from_another_model_or_damaged_is_refused(tmp_path, models):
    config = load_config(write_config(tmp_path))
    build_index(config, models, small_docs())
    with pytest.raises(IndexUnavailable, match="another-model.*rebuild"):
        open_index(config.index_dir, "another-model")
    build = current_build(config.index_dir)
    build_file(build, "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexUnavailable, match="vectors.faiss"):
        open_index(config.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    (build / "manifest.json").write_text(json.dumps(dict(manifest, format_version=99)))
    with pytest.raises(IndexUnavailable, match="newer"):
        open_index(config.index_dir)


def test_building_nothing_is_a_clear_error(tmp_path, models):
    config = load_config(write_config(tmp_path))
    with pytest.raises(BuildError, match="no documents"):
        build_index(config, models, [])


def test_passages_of_one_reply_never_overlap(tmp_path, models):
    """A chunk touching two passages of one paragraph joins them into one, instead of making
    one of them grow over the other."""
    sentences = [f"Sentence {n} tells of the convoy near Basra on day {n}." for n in range(1, 9)]
    config = load_config(write_config(tmp_path, chunking={"max_tokens": 40, "overlap_sentences": 1}))
    build_index(config, models, [Document("c.txt", "C", None, None, "en", " ".join(sentences))])
    searcher = Searcher(config, models)
    [segment] = searcher.index.segments
    assert segment.n_chunks >= 3 and segment.chunk(0).end > segment.chunk(1).start  # overlapping chunks
    from index.search import _merge_neighbours

    # chunk 0 best, then chunk 2 (not touching 0), then chunk 1, which overlaps both
    ids = np.array([0, 2, 1])
    cosines = dict.fromkeys(range(len(segment.sentence_spans)), 0.5)
    scores = np.array([0.9, 0.8, 0.7])
    hits = _merge_neighbours(segment, (0, 0), ids, scores, scores, cosines)
    spans = sorted((h.start, h.end) for h in hits)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), spans
    for question in ("What happened near Basra on day 2?", "convoy day 5"):
        answer = searcher.ask(question, k=5)
        shown = sorted((p.start, p.end) for p in answer.passages)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(shown, shown[1:])), shown


def test_a_question_in_an_article_is_never_shown_as_the_answer(tmp_path, models):
    """Subheadings and interview questions look like the reader's question to the model."""
    text = (
        "ما صلاحيات أردوغان في ظل النظام الرئاسي؟\n\n"
        "يملك الرئيس التركي في النظام الجديد صلاحية تعيين الوزراء وكبار القضاة وحل البرلمان.\n\n"
        "How will the new bridge change traffic?\n\n"
        "The bridge will carry forty thousand cars a day and cut the trip across the river to ten minutes."
    )
    config = load_config(write_config(tmp_path))
    build_index(config, models, [Document("q.txt", "Q", None, None, "ar", text)])
    searcher = Searcher(config, models)
    for question in ("ما صلاحيات أردوغان في النظام الرئاسي؟", "How will the new bridge change traffic?"):
        answer = searcher.ask(question, k=5)
        assert answer.answered
        assert all(not p.text.rstrip().endswith(("?", "؟")) for p in answer.passages), [p.text for p in answer.passages]
        assert not answer.passages[0].highlight.endswith(("?", "؟"))
