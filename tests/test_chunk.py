from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunk import chunk_document, whitespace_tokens
from index.documents import Document
from index.normalize import clean_text


def doc(text):
    return Document("d.txt", "d", None, None, "ar", clean_text(text))


def test_short_paragraphs_are_one_chunk_each():
    d = doc("جملة أولى. جملة ثانية.\nفقرة ثانية هنا.")
    chunks = chunk_document(d, 50, 1, whitespace_tokens)
    assert [(c.paragraph, c.text) for c in chunks] == [(1, "جملة أولى. جملة ثانية."), (2, "فقرة ثانية هنا.")]


def test_long_paragraph_is_cut_on_sentences_with_overlap():
    d = doc("one two three. four five six. seven eight nine. ten eleven twelve.")
    chunks = chunk_document(d, 6, 1, whitespace_tokens)
    assert [c.text for c in chunks] == [
        "one two three. four five six.",
        "four five six. seven eight nine.",
        "seven eight nine. ten eleven twelve.",
    ]


def test_overlap_is_dropped_when_it_leaves_no_room():
    d = doc("aa bb cc dd. ee ff gg hh. ii jj kk ll.")
    assert [c.text for c in chunk_document(d, 6, 1, whitespace_tokens)] == [
        "aa bb cc dd.",
        "ee ff gg hh.",
        "ii jj kk ll.",
    ]


def test_a_sentence_over_the_budget_is_cut_on_word_boundaries():
    d = doc(" ".join(f"w{i}" for i in range(25)) + ".")
    chunks = chunk_document(d, 10, 0, whitespace_tokens)
    assert [len(c.text.split()) for c in chunks] == [10, 10, 5]
    assert " ".join(c.text for c in chunks) == d.text


words = st.sampled_from(["كلمة", "word", "3.5", "؟", ".", "U.S.", "—", "🙂"])
seps = st.sampled_from([" ", " ", ". ", "؟ ", "\n", "\n\n", "! "])
texts = st.lists(st.tuples(words, seps), min_size=1, max_size=120).map(lambda p: "".join(w + s for w, s in p))


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(1, 12), st.integers(0, 3))
def test_every_chunk_span_slices_its_text_out_of_the_source(text, budget, overlap):
    d = doc(text)
    chunks = chunk_document(d, budget, overlap, whitespace_tokens)
    words = d.text.split()
    for c in chunks:
        # Checked against the document's words, not against the slice the chunk was cut with:
        # the chunk's words are the run of the document's words that begins where its span does.
        before = len(d.text[: c.start].split())
        assert c.text.split() == words[before : before + len(c.text.split())]
        assert not c.text[:1].isspace() and not c.text[-1:].isspace()
        assert all(c.start <= a < b <= c.end for a, b in c.sentences)
        assert sum(whitespace_tokens([d.text[a:b] for a, b in c.sentences])) <= budget
    # Nothing is lost: every word of the document is in some chunk.
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())
