"""Text as scraped pages deliver it: separators, broken characters, glyph forms, mixed scripts."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunk import chunk_document, whitespace_tokens
from index.documents import Document
from index.normalize import clean_text, question_language
from index.split import paragraphs, sentence_spans


def test_line_and_paragraph_separators_and_cp1252_leftovers():
    assert clean_text("one\u2028two") == "one two"
    assert clean_text("one.\u2029two.") == "one.\n\ntwo."
    assert clean_text("wait\u0085 \u0093quoted\u0094 \u0096 done") == "wait… “quoted” – done"


def test_a_lone_surrogate_is_dropped_and_the_rest_is_kept():
    cleaned = clean_text("half \ud83d an emoji 🙂")
    assert cleaned == "half an emoji 🙂"
    cleaned.encode("utf-8")  # writable


def test_arabic_presentation_forms_become_letters():
    # «لا» and «السلام» as PDF extracts store them: glyph shapes, not letters
    assert clean_text("\ufefb \ufe8e\ufedf\ufeb4\ufedf\ufe8e\ufee1") == "لا السلام"


def test_the_arabic_letter_mark_does_not_block_a_sentence_end():
    text = clean_text("انتهى الاجتماع.\u061c وبدأ آخر.")
    assert [text[a:b] for a, b in sentence_spans(text)] == ["انتهى الاجتماع.", "وبدأ آخر."]


def test_a_question_naming_someone_in_the_other_script_keeps_its_language():
    assert question_language("من هو Mohammed bin Salman؟") == "ar"
    assert question_language("من هو Mohammed bin Salman") == "ar"
    assert question_language("What did محمد بن سلمان say?") == "en"
    assert question_language("Who is Mohammed bin Salman?") == "en"
    assert question_language("من هو محمد بن سلمان؟") == "ar"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300))
def test_any_text_cleans_to_storable_text_whose_rows_survive_a_round_trip(raw):
    """Whatever a feed delivers: the cleaned text encodes as UTF-8, its paragraphs and chunks
    slice it exactly, and a JSONL row of it reads back as one row."""
    text = clean_text(raw)
    text.encode("utf-8")
    assert clean_text(text) == text  # cleaning is stable: a rebuild sees the same text
    row = json.dumps({"text": text}, ensure_ascii=False) + "\n"
    assert [json.loads(line) for line in row.split("\n") if line] == [{"text": text}]
    for paragraph in paragraphs(text):
        for start, end in paragraph.sentences:
            assert text[start:end].strip() == text[start:end] != ""
    chunks = chunk_document(Document("d", "d", None, None, "ar", text), 16, 1, whitespace_tokens)
    assert all(text[c.start : c.end] == c.text for c in chunks)
