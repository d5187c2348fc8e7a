"""The sentence ranker: its signals read what a question asks against what a sentence holds,
across scripts, and the model trained here takes the sentence holding the detail asked about
over the lead that restates the story."""

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from index import ranker
from index.build import build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from tests.conftest import ROOT, write_config


@pytest.mark.parametrize(
    "question, kinds",
    [
        ("How many drones were used in the attack?", {"number"}),
        ("كم عدد المسيرات التي استخدمت في الهجوم؟", {"number"}),
        ("ما نسبة المشاركة في الانتخابات؟", {"number"}),
        ("When did the talks begin?", {"time"}),
        ("في أي عام افتتح المتحف؟", {"time"}),
        ("متى وقع الهجوم؟", {"time"}),
        ("Why did the minister resign?", {"reason"}),
        ("لماذا استقال الوزير؟", {"reason"}),
        ("Who won the election?", set()),
    ],
)
def test_what_a_question_asks_for_is_read_in_both_languages(question, kinds):
    assert ranker.asked(question) == kinds


def test_what_a_sentence_holds():
    assert ranker.holds_number("قتل ثلاثة أشخاص في الانفجار")
    assert ranker.holds_number("Prices rose by 12 percent")
    assert not ranker.holds_number("وصل الرئيس إلى العاصمة")
    assert ranker.holds_time("وقع الهجوم يوم الثلاثاء")
    assert ranker.holds_time("افتتح في عام 2018")
    assert not ranker.holds_time("وصل الرئيس إلى العاصمة")
    assert ranker.holds_reason("استقال بسبب المرض")
    assert not ranker.holds_reason("استقال الوزير")


def test_numbers_match_across_digit_scripts_and_keep_their_decimals():
    assert ranker.numbers("بلغ عدد الركاب ١٨٤ راكبا") == {"184"}
    assert ranker.numbers("rose 3.5% to 1,200 dollars") == {"3.5", "1200"}
    assert "35" not in ranker.numbers("3.5")


@pytest.mark.parametrize(
    "name, sentence, found",
    [
        ("Airbus", "أعلنت شركة إيرباص عن طلبية جديدة", True),
        ("Trump", "قال الرئيس ترامب", True),
        ("Kadhimi", "استهدف منزل الكاظمي", True),
        ("Erdogan", "وقال أردوغان", True),
        ("Boeing", "أعلنت شركة إيرباص عن طلبية جديدة", False),
        ("Google", "قال المتحدث", False),  # two consonants: too few to tell a name from a word
        ("Reuters", "according to Reuters", True),
    ],
)
def test_latin_names_are_found_in_arabic_spelling(name, sentence, found):
    assert (ranker.shared_names([name], sentence) == 1.0) is found


def test_the_names_of_a_question_are_its_capitalised_words_past_the_first():
    assert ranker.latin_names("What did Airbus tell the Paris court?") == ["Airbus", "Paris"]


@pytest.mark.parametrize(
    ("path", "known"), [(ranker.WEIGHTS, ranker.FEATURES), (ranker.ANSWERABLE, ranker.QUESTION_FEATURES)]
)
def test_each_shipped_model_was_learned_from_the_questions_in_the_repository(path, known):
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["features"] and set(saved["features"]) <= set(known)
    # keys are paths from the checkout's parent: the repository's own files are checked, so a
    # question set edited without learning again fails here, as does a sentence ranker learned
    # again without the answerability model that reads its scores
    ours = {ROOT.joinpath(*Path(key).parts[1:]): digest for key, digest in saved["data_sha256"].items()}
    ours = {file: digest for file, digest in ours.items() if file.is_file()}
    assert ROOT / "bench" / "data" / "archive_questions.jsonl" in ours
    assert all(hashlib.sha256(file.read_bytes()).hexdigest() == digest for file, digest in ours.items())


FLOOD = Document(
    "flood.txt",
    "فيضانات تضرب جنوب البلاد",
    None,
    "2026-11-02",
    "ar",
    "ضربت فيضانات عارمة جنوب البلاد أمس، وأغرقت قرى ومزارع على ضفاف النهر.\n\n"
    "وقالت السلطات إن الفيضانات في الجنوب هي الأسوأ منذ سنوات، وإن فرق الإنقاذ تعمل في المنطقة.\n\n"
    "وأضافت أن 37 شخصا لقوا حتفهم، فيما نقل 120 مصابا إلى مستشفيات المدينة.\n\n"
    "ويتوقع خبراء الأرصاد أن تستمر الأمطار حتى نهاية الأسبوع.",
)


def test_the_sentence_holding_the_number_asked_for_comes_first(tmp_path, models):
    # The model's cosine alone prefers the sentence that restates the floods in the south.
    config = load_config(write_config(tmp_path))
    build_index(config, models, [FLOOD])
    first = Searcher(config, models).ask("كم عدد الذين لقوا حتفهم في فيضانات الجنوب؟").passages[0]
    assert "37" in first.highlight and first.highlight in first.text


def test_the_answerability_bar_refuses_what_the_model_doubts(tmp_path, models):
    question = "كم عدد الذين لقوا حتفهم في فيضانات الجنوب؟"
    config = load_config(write_config(tmp_path))
    build_index(config, models, [FLOOD])
    answers = {}
    for bar in (0.0, 1.0):  # off; and a bar no probability reaches
        search = dataclasses.replace(config.search, min_answerability=bar)
        answers[bar] = Searcher(dataclasses.replace(config, search=search), models).ask(question)
    assert answers[0.0].answered and answers[0.0].passages
    assert not answers[1.0].answered and not answers[1.0].passages
