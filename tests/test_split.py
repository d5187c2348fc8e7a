from hypothesis import given, settings
from hypothesis import strategies as st

from index.split import paragraphs, sentence_spans


def sentences(text):
    return [text[a:b] for a, b in sentence_spans(text)]


def test_arabic_question_mark_and_semicolon_end_sentences():
    text = "من أين انطلقت الطائرات؟ لا أحد يعرف؛ التحقيق جار. وصل قاآني!"
    assert sentences(text) == ["من أين انطلقت الطائرات؟", "لا أحد يعرف؛", "التحقيق جار.", "وصل قاآني!"]


def test_numbers_abbreviations_and_initials_stay_whole():
    text = "Growth was 3.5 percent, said Dr. Smith of the U.S. Treasury. J. Doe agreed."
    assert sentences(text) == ["Growth was 3.5 percent, said Dr. Smith of the U.S. Treasury.", "J. Doe agreed."]


def test_closing_quote_stays_with_its_sentence():
    text = "قال إنها “فتنة جديدة.” ثم غادر."
    assert sentences(text) == ["قال إنها “فتنة جديدة.”", "ثم غادر."]


def test_line_breaks_end_sentences_and_blank_lines_end_paragraphs():
    text = "Title line\nsecond line without stop\n\nNew paragraph. Two sentences."
    paras = paragraphs(text)
    assert [p.number for p in paras] == [1, 2]
    assert [text[a:b] for a, b in paras[0].sentences] == ["Title line", "second line without stop"]
    assert [text[a:b] for a, b in paras[1].sentences] == ["New paragraph.", "Two sentences."]


def test_without_blank_lines_each_line_is_a_paragraph():
    text = "أولاً سطر.\nثانياً سطر.\nثالثاً."
    assert len(paragraphs(text)) == 3


alphabet = st.sampled_from(list('ab ج د.؟!?؛\n3٫5”"»') + ["Dr.", "U.S.", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=80).map("".join))
def test_sentences_are_ordered_trimmed_and_cover_every_visible_character(text):
    spans = [s for p in paragraphs(text) for s in p.sentences]
    covered = set()
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered.update(range(start, end))
        previous_end = end
    assert covered >= {i for i, ch in enumerate(text) if not ch.isspace()}


def test_a_blank_line_after_a_dateline_keeps_the_rest_one_paragraph_a_line():
    text = "بغداد - رويترز\n\nوصل قاآني إلى بغداد.\nواجتمع بالكاظمي.\nثم غادر."
    assert [text[a:b] for a, b in (p.span for p in paragraphs(text))] == [
        "بغداد - رويترز",
        "وصل قاآني إلى بغداد.",
        "واجتمع بالكاظمي.",
        "ثم غادر.",
    ]


def test_wrapped_lines_stay_one_paragraph():
    text = "The drones took off from a farm\nnorth-east of Baghdad, officials said\non Tuesday.\n\nNext."
    assert len(paragraphs(text)) == 2
