"""Time expressions in questions, Arabic and English, against a fixed today."""

import datetime as dt

import pytest

from index.when import TimeScope, time_scope

TODAY = dt.date(2026, 11, 29)  # a Sunday
D = dt.date


@pytest.mark.parametrize(
    "question, period, words_left",
    [
        ("What happened yesterday in Basra?", (D(2026, 11, 28), D(2026, 11, 28)), "What happened in Basra?"),
        ("ماذا حدث في البصرة أمس؟", (D(2026, 11, 28), D(2026, 11, 28)), "ماذا حدث في البصرة ؟"),
        ("Iran talks in March 2018", (D(2018, 3, 1), D(2018, 3, 31)), "Iran talks"),
        ("ماذا حدث في مارس 2018؟", (D(2018, 3, 1), D(2018, 3, 31)), "ماذا حدث ؟"),
        ("elections in 2018", (D(2018, 1, 1), D(2018, 12, 31)), "elections"),
        ("news from last month about oil", (D(2026, 10, 1), D(2026, 10, 31)), "news about oil"),
        ("ماذا قال الوزير الأسبوع الماضي؟", (D(2026, 11, 22), D(2026, 11, 28)), "ماذا قال الوزير ؟"),
        ("What did Iraq say since Tuesday?", (D(2026, 11, 24), TODAY), "What did Iraq say ?"),
        ("Who was arrested two days ago?", (D(2026, 11, 27), D(2026, 11, 27)), "Who was arrested ?"),
        ("ما الذي حدث منذ يوم الثلاثاء في بغداد؟", (D(2026, 11, 24), TODAY), "ما الذي حدث في بغداد؟"),
    ],
)
def test_a_time_expression_becomes_a_period_and_leaves_the_text(question, period, words_left):
    scope = time_scope(question, TODAY)
    assert scope.period == period and scope.text == words_left and not scope.latest


@pytest.mark.parametrize("question", ["ما آخر أخبار سد النهضة؟", "What is the latest on the dam talks?"])
def test_latest_asks_for_the_newest_without_a_period(question):
    scope = time_scope(question, TODAY)
    assert scope.latest and scope.period is None and "آخر" not in scope.text and "latest" not in scope.text


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What happened with the Mosul dam talks?", "the Mosul dam talks?"),
        ("What is the latest on the Mosul dam talks?", "the Mosul dam talks?"),
        ("what's the latest news about the Mosul dam talks?", "the Mosul dam talks?"),
        ("Any developments in the dam talks?", "Any the dam talks?"),
        ("ما مستجدات مفاوضات سد النهضة؟", "مفاوضات سد النهضة؟"),
        ("ما آخر تطورات مفاوضات سد النهضة؟", "مفاوضات سد النهضة؟"),
        ("ما هي آخر الأخبار عن مفاوضات سد النهضة؟", "مفاوضات سد النهضة؟"),
        ("أحدث المستجدات حول مفاوضات سد النهضة", "مفاوضات سد النهضة"),
        ("ماذا حدث بشأن مفاوضات سد النهضة؟", "مفاوضات سد النهضة؟"),
    ],
)
def test_how_a_story_developed_asks_for_the_newest_and_keeps_its_subject(question, subject):
    scope = time_scope(question, TODAY)
    assert scope.latest and scope.period is None and scope.text == subject


@pytest.mark.parametrize(
    "question",
    [
        "Where were the drones launched from?",
        "من أين انطلقت الطائرات المسيرة؟",
        "How much did Jeff Bezos donate to the 10,000-year clock?",
        "كم بلغت الكفالة التي حددت للرجل المتهم بسرقة تمثال أوسكار؟",
    ],
)
def test_a_question_without_time_is_left_as_it_is(question):
    assert time_scope(question, TODAY) == TimeScope(question)


@pytest.mark.parametrize(
    "question",
    [
        "What is the US unemployment rate, at its lowest in 17 years?",  # a date after today
        "Can you recommend a laptop for video editing under $1000?",  # a number, not a year
        "How large is the watchOS 4.3 beta update?",  # a version, not a date
        "What happened to the intelligence service a week before?",  # a length of time in the story
        "كيف تبدو الحياة في بغداد بعد يومين من محاولة الاغتيال؟",
    ],
)
def test_numbers_that_are_not_dates_give_no_period(question):
    assert time_scope(question, TODAY).period is None


def test_since_a_year_runs_from_its_start_to_today():
    scope = time_scope("متى سجلت البطالة أدنى مستوى منذ عام 1969؟", TODAY)
    assert scope.period == (D(1969, 1, 1), TODAY) and "1969" not in scope.text
