"""What Sanad shows never leaks where its files live."""

import json

from bot.formatting import answer_messages, sources_message
from bot.service import SearchService
from index.build import build_from_config
from index.config import load_config
from index.search import Searcher
from tests.conftest import write_config


def test_citations_and_sources_name_articles_never_file_system_paths(tmp_path, models):
    seeds = tmp_path / "private" / "seeds"
    (seeds / "2021" / "nov").mkdir(parents=True)
    (seeds / "2021" / "nov" / "drones.txt").write_text("Drones hit the house in the Green Zone.", encoding="utf-8")
    corpus = tmp_path / "private" / "feeds" / "wire.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(json.dumps({"id": "w1", "text": "Rockets fell near the intelligence building."}), "utf-8")
    config = load_config(write_config(tmp_path))
    build_from_config(config, models, seeds=seeds, corpus=corpus, warn=lambda _: None)
    searcher = Searcher(config, models)
    ids = [d.id for d in searcher.index.articles()]
    assert sorted(ids) == ["2021/nov/drones.txt", "wire.jsonl#w1"]  # relative to seeds/, or the file's name
    shown = []
    for question in ("What hit the house?", "Where did rockets fall?"):
        answer = searcher.ask(question)
        assert answer.answered  # a citation was shown, so the check below has something to check
        shown.append(json.dumps(answer.to_dict()))
        shown += answer_messages(answer, "en")
    shown.append(sources_message(SearchService(searcher, 1).sources(), "en"))
    for text in shown:
        assert str(tmp_path) not in text and "private" not in text
