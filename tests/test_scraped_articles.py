"""Articles written the way scraped news arrives: line separators inside sentences, half an
emoji, PDF glyph forms, the Arabic letter mark, nested HTML, a title thousands of characters
long. The build takes them all, a question typed normally finds each, no passage shows twice."""

import json
import unicodedata

import pytest

from bot.formatting import answer_messages
from index.build import build_from_config
from index.config import load_config
from index.search import Searcher
from tests.conftest import write_config


def presentation_forms(text: str) -> str:
    """Arabic letters as the isolated glyph forms a PDF extract gives."""
    forms = {}
    for code in range(0xFE70, 0xFEFD):
        decomposition = unicodedata.decomposition(chr(code)).split()
        if decomposition[:1] == ["<isolated>"] and len(decomposition) == 2:
            forms.setdefault(chr(int(decomposition[1], 16)), chr(code))
    return "".join(forms.get(ch, ch) for ch in text)


ARTICLES = {
    "separators.txt": "The convoy left Basra\u2028at dawn on Tuesday, escorted by police.\u2029"
    "The governor said\u0085 the road to Amara was reopened after the floods.",
    "glyphs.txt": presentation_forms("ارتفعت أسعار التمور في أسواق البصرة بنسبة كبيرة هذا الشهر."),
    "letter-mark.txt": "أعلنت وزارة الكهرباء خطتها.\u061c وقالت إن محطة جديدة ستعمل في كربلاء الشهر المقبل.",
    "nested.html": "<html><head><title>Erbil airport</title></head><body><article>"
    "<div>Erbil (AFP) - officials spoke on Sunday.</div>"
    "<blockquote><p>The minister said the airport in Erbil will reopen next week.</p></blockquote>"
    "<ul><li><p>Flights to Istanbul resume on Monday.</p></li></ul></article></body></html>",
}
FEED_ROW = {
    "id": "mosul",
    "title": "متحف الموصل " * 800,  # a scraped title of ~10,000 characters
    "text": "أعاد متحف الموصل فتح أبوابه \ud83d للزوار بعد سنوات من الترميم.",
}
QUESTIONS = [
    ("When did the convoy leave Basra?", "separators.txt"),
    ("ما الذي ارتفع سعره في أسواق البصرة؟", "glyphs.txt"),
    ("متى ستعمل محطة الكهرباء الجديدة في كربلاء؟", "letter-mark.txt"),
    ("When will the Erbil airport reopen?", "nested.html"),
    ("When do flights to Istanbul resume?", "nested.html"),
    ("متى أعاد متحف الموصل فتح أبوابه؟", "feed.jsonl#mosul"),
]


@pytest.fixture(scope="module")
def scraped(tmp_path_factory, models):
    folder = tmp_path_factory.mktemp("scraped")
    seeds = folder / "seeds"
    seeds.mkdir()
    for name, text in ARTICLES.items():
        (seeds / name).write_text(text, encoding="utf-8")
    # json.dumps writes the lone surrogate as the escape "\ud83d", as a truncated feed would
    (seeds / "feed.jsonl").write_text(json.dumps(FEED_ROW) + "\n", encoding="utf-8")
    config = load_config(write_config(folder))
    warnings = []
    build_from_config(config, models, seeds=seeds, warn=warnings.append)
    return Searcher(config, models), warnings


def test_the_build_takes_every_article_and_names_the_repaired_one(scraped):
    searcher, warnings = scraped
    assert searcher.index.n_documents == 5
    assert len(warnings) == 1 and "feed.jsonl line 1" in warnings[0]


@pytest.mark.parametrize("question, doc_id", QUESTIONS)
def test_each_article_is_found_by_a_question_typed_normally(scraped, question, doc_id):
    searcher, _ = scraped
    answer = searcher.ask(question)
    assert answer.answered and answer.passages[0].doc_id == doc_id, [p.doc_id for p in answer.passages]
    shown = [(p.doc_id, p.start, p.end) for p in answer.passages]
    texts = [p.text for p in answer.passages]
    assert len(set(texts)) == len(texts)  # no passage twice
    for (doc_a, _, end_a), (doc_b, start_b, _) in zip(sorted(shown), sorted(shown)[1:]):
        assert doc_a != doc_b or end_a <= start_b  # nor two overlapping
    for message in answer_messages(answer, answer.lang):
        assert len(message.encode("utf-16-le")) // 2 <= 4096
