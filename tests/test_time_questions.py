"""Questions about time over a dated archive: a period keeps to the articles dated in it (undated
ones after them), "latest" over no one story keeps the best matches first, and `ask --json` says
which period it applied."""

import datetime as dt

import pytest

from index.build import build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from index.when import time_scope
from tests.conftest import write_config

PORT = [
    ("port-2018", "2018-03-12", "The port of Umm Qasr received 40 cargo ships in March, the port authority said."),
    ("port-2019", "2019-05-02", "The port of Umm Qasr received 55 cargo ships in May, the port authority said."),
    ("port-2026", "2026-11-27", "The port of Umm Qasr received 61 cargo ships this week, the port authority said."),
    ("port-undated", None, "The port of Umm Qasr is Iraq's main gateway for cargo ships and grain."),
]


@pytest.fixture(scope="module")
def searcher(tmp_path_factory, models):
    folder = tmp_path_factory.mktemp("dated")
    config = load_config(write_config(folder))
    docs = [Document(f"{key}.txt", key, None, date, "en", text) for key, date, text in PORT]
    build_index(config, models, docs)
    searcher = Searcher(config, models)
    searcher.today = lambda: dt.date(2026, 11, 29)
    return searcher


def test_a_period_keeps_to_articles_dated_inside_it_and_says_which(searcher):
    answer = searcher.ask("How many cargo ships did the port of Umm Qasr receive in March 2018?", k=4)
    assert answer.to_dict()["period"] == {"from": "2018-03-01", "to": "2018-03-31"}
    assert [p.doc_id for p in answer.passages] == ["port-2018.txt", "port-undated.txt"]  # undated after dated


def test_a_relative_period_counts_from_today(searcher):
    answer = searcher.ask("ما عدد السفن التي استقبلها ميناء أم قصر الأسبوع الماضي؟", k=4)
    assert answer.period == ("2026-11-22", "2026-11-28")
    assert answer.passages[0].doc_id == "port-2026.txt" and answer.passages[0].date == "2026-11-27"
    assert {p.doc_id for p in answer.passages} <= {"port-2026.txt", "port-undated.txt"}


def test_latest_over_reports_of_no_one_story_keeps_them_as_ranked(searcher):
    """Years apart, the port's reports are separate stories: a newer one is not a better answer."""
    question = "What is the latest on cargo ships at the port of Umm Qasr?"
    answer = searcher.ask(question, k=4)
    assert "period" not in answer.to_dict() and answer.no_single_story
    as_ranked = searcher.ask(time_scope(question, searcher.today()).text, k=4)  # without its time words
    assert [p.doc_id for p in answer.passages] == [p.doc_id for p in as_ranked.passages]


def test_without_time_words_nothing_changes(searcher):
    answer = searcher.ask("How many cargo ships did the port of Umm Qasr receive?", k=4)
    assert "period" not in answer.to_dict() and len(answer.passages) == 4


def test_a_year_no_article_is_dated_in_is_what_the_news_was_about(searcher):
    """Asked of recent news, "in 2008" names the event, not when it was written."""
    answer = searcher.ask("How many cargo ships did the port of Umm Qasr receive in 2008?", k=4)
    assert answer.answered and answer.period is None and len(answer.passages) == 4
