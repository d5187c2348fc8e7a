"""Retrieval quality on small fixed data: the seed-article questions are answered with the
right paragraph, off-topic questions are not answered, and lexical evidence only counts
within a language."""

import dataclasses

import pytest

from index.build import build_index
from index.config import MarginConfig, load_config
from index.documents import Document
from index.evaluate import evaluate
from index.search import Searcher
from tests.conftest import ROOT, write_config

DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def seed_questions(seed_config, models):
    return evaluate(seed_config, models, ROOT / "seeds", DATA / "seed_questions.jsonl")


def test_seed_questions_in_both_languages_get_the_right_paragraph(seed_questions):
    for lang in ("ar", "en"):
        figures = seed_questions["by_lang"][lang]
        assert figures["n"] == 25
        assert figures["paragraph@3"] >= 0.95, (lang, figures)
        assert figures["recall@1"] == 1.0, (lang, figures)


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_questions_about_other_things_are_not_answered(seed_config, models, lang):
    figures = evaluate(seed_config, models, ROOT / "seeds", DATA / "xquad_small" / f"queries.{lang}.jsonl")
    assert figures["answered"] <= 0.10, figures


NEWS = [
    Document(
        "festival.txt",
        "مهرجان الكبسة",
        None,
        None,
        "ar",
        "أقيم في الرياض أمس مهرجان للأكلات الشعبية شارك فيه أكثر من مئتي طاهٍ من مختلف مناطق المملكة.\n\n"
        "وقدم الطهاة خلال المهرجان أطباقا من الكبسة باللحم والدجاج، وفاز طاهٍ من القصيم بالجائزة الأولى "
        "وقيمتها خمسون ألف ريال.\n\n"
        "وقال المنظمون إن عدد زوار المهرجان تجاوز ثلاثين ألف زائر في يومه الأول.",
    ),
    Document(
        "phone.txt",
        "هاتف جديد",
        None,
        None,
        "ar",
        "كشفت شركة سامسونغ عن هاتفها الجديد في مؤتمر صحفي في سيول، بكاميرا بدقة مئتي ميغابكسل.\n\n"
        "وقالت الشركة إن سعر الهاتف سيبدأ من ألف ومئتي دولار، وإنه سيطرح في الأسواق الشهر المقبل.",
    ),
]


def test_everyday_requests_on_what_the_news_covers_are_not_answered(tmp_path, models):
    # A festival report scores above the least score for a kabsa recipe request; what keeps the
    # request unanswered is the margin over everyday requests, while news questions about the
    # same articles are still answered.
    config = load_config(write_config(tmp_path))
    build_index(config, models, NEWS)
    requests = [
        "كيف أحضّر الكبسة باللحم في البيت؟",
        "What is a good recipe for kabsa with chicken?",
        "كاميرا هاتفي تلتقط صورا ضبابية فكيف أصلحها؟",
        "My phone camera takes blurry photos, how do I fix it?",
    ]
    news = {
        "كم بلغت قيمة الجائزة الأولى في مهرجان الأكلات الشعبية بالرياض؟": "festival.txt",
        "How much was the first prize at the Riyadh food festival?": "festival.txt",
        "بكم سيباع هاتف سامسونغ الجديد؟": "phone.txt",
        "How much will Samsung's new phone cost?": "phone.txt",
    }
    searcher = Searcher(config, models)
    for question in requests:
        assert not searcher.ask(question).answered, question
    for question, doc_id in news.items():
        answer = searcher.ask(question)
        assert answer.answered and answer.passages[0].doc_id == doc_id, question
    no_margin = dataclasses.replace(config.search, min_margin=MarginConfig(-2.0, -2.0, -2.0, -2.0))
    loose = Searcher(dataclasses.replace(config, search=no_margin), models)
    assert all(loose.ask(question).answered for question in requests)


TRANSFER = Document(
    "transfer.txt",
    "تشيلسي يضم كيبا أغلى حارس مرمى في التاريخ",
    None,
    None,
    "ar",
    "أصبح الإسباني كيبا أريزابالاغا أغلى حارس مرمى في التاريخ بعد انتقاله من أتلتيك بيلباو إلى تشيلسي "
    "مقابل 80 مليون يورو.\n\n"
    "وتجاوزت الصفقة ما دفعه ليفربول لضم الحارس البرازيلي أليسون قبل أسابيع.\n\n"
    "ووقع الحارس عقدا لمدة سبع سنوات ليحل محل تيبو كورتوا المنتقل إلى ريال مدريد.\n\n"
    "وخاض كيبا 53 مباراة في الدوري الإسباني مع فريقه السابق.",
)


def test_a_question_about_a_detail_gets_it_before_the_lead_that_restates_the_headline(tmp_path, models):
    # The lead repeats the headline, so it scores highest for any question naming the story;
    # the contract's length is in the third paragraph, which scores within a hair of it. The
    # sentence ranker finds it; so does retrieval alone, by letting the lead give way.
    config = load_config(write_config(tmp_path))
    build_index(config, models, [TRANSFER])
    question = "ما مدة العقد الذي وقعه كيبا مع تشيلسي؟"
    first = Searcher(config, models).ask(question).passages[0]
    assert first.paragraph == 3 and "سبع سنوات" in first.highlight
    retrieval = dataclasses.replace(config.search, ranker="off")
    first, second = Searcher(dataclasses.replace(config, search=retrieval), models).ask(question).passages[:2]
    assert first.paragraph == 3 and "سبع سنوات" in first.text
    assert second.paragraph == 1  # the lead trades places; it is not dropped
    unswapped = dataclasses.replace(retrieval, lead_swap_within=0.0)
    assert Searcher(dataclasses.replace(config, search=unswapped), models).ask(question).passages[0].paragraph == 1


def test_lexical_evidence_counts_only_within_the_question_language(tmp_path, models):
    config = load_config(write_config(tmp_path))
    build_index(
        config,
        models,
        [
            Document("ar.txt", "صفقة", None, None, "ar", "أعلنت الصين شراء 184 طائرة Airbus في صفقة ضخمة."),
            Document("en.txt", "Weather", None, None, "en", "Heavy rain is expected across the north this week."),
        ],
    )
    searcher = Searcher(config, models)
    [arabic, english] = searcher.queries(["صفقة طائرات Airbus", "Airbus aircraft deal"])
    # The Latin word matches the Arabic chunk lexically either way, but only counts for the
    # Arabic question: across languages, a shared word is no evidence of a shared topic.
    assert searcher.index.segments[0].lexical.scores(english.keys)[0] > 0
    arabic_hit = next(h for h in searcher.ranked(arabic) if h.doc == 0)
    english_hit = next(h for h in searcher.ranked(english) if h.doc == 0)
    assert arabic_hit.score > arabic_hit.semantic
    assert english_hit.score == pytest.approx(english_hit.semantic)


def test_the_xquad_sample_is_retrieved_across_languages_and_highlighted(seed_config, models):
    corpus = DATA / "xquad_small" / "corpus.ar.jsonl"
    cross = evaluate(seed_config, models, corpus, DATA / "xquad_small" / "queries.en.jsonl")
    assert cross["recall@1"] >= 0.85 and cross["answered"] >= 0.9, cross
    same = evaluate(seed_config, models, corpus, DATA / "xquad_small" / "queries.ar.jsonl")
    assert same["recall@1"] >= 0.9 and same["highlight"] >= 0.5, same  # answers are in Arabic here


@pytest.mark.parametrize("question", ["🙂🙂🙂", "2021 ???", "!!!", "日本の首都はどこですか"])
def test_questions_without_arabic_or_english_words_are_not_answered(seed_searcher, question):
    assert not seed_searcher.ask(question).answered
