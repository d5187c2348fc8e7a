"""Replies are valid Telegram HTML within 4096 UTF-16 units, whatever the articles hold."""

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import formatting
from bot.formatting import (
    FSI,
    PDI,
    answer_messages,
    isolate,
    latest_message,
    paragraph_message,
    push_messages,
    reports_message,
    sources_message,
    timeline_message,
)
from bot.service import ArchiveSummary
from bot.texts import TEXTS
from index.corroboration import Report
from index.documents import Document
from index.follows import Follow
from index.search import Answer, Passage
from index.stories import Event

ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}


class TelegramHTML(HTMLParser):
    """Fails on anything Telegram's HTML parser would reject: unknown or unbalanced tags, and
    a bare & or < that is not an entity."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.stack, self.text = [], []

    def handle_starttag(self, tag, attrs):
        assert tag in ALLOWED_TAGS, tag
        assert tag != "a" or [k for k, _ in attrs] == ["href"]
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, tag

    def handle_data(self, data):
        assert "<" not in data and ">" not in data and "&" not in data
        self.text.append(data)

    def handle_entityref(self, name):
        assert name in ("lt", "gt", "amp", "quot")

    def handle_charref(self, name):
        raise AssertionError(f"unexpected char ref {name}")


def telegram_length(message: str) -> int:
    """What Telegram counts, measured here on its own: UTF-16 code units, where a character
    beyond the Basic Multilingual Plane (an emoji) takes two."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in message)


def check(message):
    parser = TelegramHTML()
    parser.feed(message)
    parser.close()
    assert not parser.stack
    assert telegram_length(message) <= 4096


hard_text = st.lists(
    st.sampled_from(list("abc ابت<>&\"'.؟!\n🙂\u202e\u200b\u2066") + ["🇸🇦", "أخبار", "news", "&amp;", "<b>"]),
    min_size=1,
    max_size=120,
).map("".join)


@st.composite
def passages(draw):
    n = draw(st.integers(1, 5))
    result = []
    for rank in range(1, n + 1):
        body = draw(hard_text) * draw(st.sampled_from([1, 1, 40]))  # sometimes far over the limit
        start = draw(st.integers(0, len(body) - 1))
        highlight = body[start : start + draw(st.integers(0, 200))]
        url = draw(
            st.sampled_from([None, "https://e.x/a?b=1&c=<2>", "javascript:alert(1)", "https://e.x/" + "🙂" * 3000])
        )
        title = draw(hard_text) * draw(st.sampled_from([1, 1, 500]))  # a scraped <title> can be any length
        result.append(
            Passage(
                rank,
                "d.txt",
                title,
                url,
                draw(st.sampled_from([None, "2021-11-09"])),
                draw(st.integers(1, 500)),
                0,
                len(body),
                body,
                highlight,
                0.9,
            )
        )
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(passages(), hard_text, st.sampled_from(["ar", "en"]))
def test_every_answer_message_is_valid_html_within_the_limit(ps, question, lang):
    messages = answer_messages(Answer(question, lang, True, ps), lang)
    for message in messages:
        check(message)
    joined = "".join(messages)
    assert all(f"<b>{p.rank}.</b>" in joined for p in ps)  # split between passages, none dropped
    assert "javascript:" not in joined


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(["story", "question"]), hard_text, passages()), min_size=1, max_size=3),
    st.sampled_from(["ar", "en"]),
)
def test_a_push_splits_between_passages_and_names_the_follow_atop_each_part(follows, lang):
    groups = [(Follow(f"f{i}", 1, kind, label, label, lang), ps) for i, (kind, label, ps) in enumerate(follows)]
    messages = push_messages(groups, lang)
    for body, _ in messages:
        check(body)
    total = sum(len(ps) for _, ps in groups)
    assert [n for _, numbers in messages for n in numbers] == list(range(1, total + 1))  # each once, in order
    whose = [follow for follow, ps in groups for _ in ps]  # by passage number
    for body, numbers in messages:  # every part starts by naming the follow of its first passage
        header = TEXTS[f"push_{whose[numbers[0] - 1].kind}"][lang].split("{label}")[0]
        assert body.startswith(header) and f"<b>{numbers[0]}.</b>" in body


def test_a_follow_whose_passages_fill_a_message_is_named_again_atop_the_next():
    body = "The dam on the Tigris burst and flooded the villages below it. " * 30
    ps = [
        Passage(n, "d.txt", f"Dam report {n}", None, "2026-03-01", 1, 0, len(body), body, body[:60], 0.9)
        for n in (1, 2, 3)
    ]
    messages = push_messages([(Follow("f", 1, "story", "Mosul Dam", "Mosul Dam", "en"), ps)], "en")
    assert [numbers for _, numbers in messages] == [[1, 2], [3]]
    assert all(body.startswith("🔔 New in a story you follow: “Mosul Dam”") for body, _ in messages)


@settings(max_examples=60, deadline=None)
@given(hard_text, st.integers(1, 40), st.sampled_from(["ar", "en"]))
def test_paragraph_and_sources_messages_stay_valid(body, repeat, lang):
    check(paragraph_message("عنوان <x>", 3, None, "https://e.x/&", body * repeat, lang))
    newest = [
        Document(f"d{n}", body * 100, "https://e.x/?a=1&b=2", "2026-11-2" + str(n % 9), "ar", body)
        for n in range(repeat)
    ]
    summary = ArchiveSummary(
        repeat * 20,
        [("https://feed.example/rss", 7), ("seeds", 3)],
        [(body, 5), ("BBC Arabic", 4)],
        "2018-02-13",
        "2026-11-28",
        newest,
    )
    check(sources_message(summary, lang))
    check(latest_message(newest * 20, body, lang))


def test_a_ten_thousand_character_title_is_cut_in_citations():
    title = "عنوان طويل جداً " * 700
    body = "نص الفقرة."
    passage = Passage(1, "d", title, "https://e.x/" + "a" * 5000, "2021-11-09", 1, 0, len(body), body, body, 0.9)
    [message] = answer_messages(Answer("q", "ar", True, [passage] * 3), "ar")
    check(message)
    assert message.count("نص الفقرة.") == 3 and "عنوان طويل جداً" in message
    check(paragraph_message(title * 3, 1, "x" * 5000, None, body, "en"))


def test_a_long_passage_is_cut_on_a_sentence_with_an_ellipsis():
    sentence = "هذه جملة طويلة عن الأخبار. "
    body = sentence * 400
    [message] = answer_messages(
        Answer("q", "ar", True, [Passage(1, "d", "t", None, None, 1, 0, len(body), body, sentence.strip(), 0.9)]), "ar"
    )
    check(message)
    assert "الأخبار.…</blockquote>" in message


def test_text_of_the_other_direction_is_isolated():
    assert isolate("عنوان الخبر", "en") == f"{FSI}عنوان الخبر{PDI}"
    assert isolate("Reuters", "ar") == f"{FSI}Reuters{PDI}"
    assert isolate("عنوان الخبر", "ar") == "عنوان الخبر" and isolate("Reuters", "en") == "Reuters"
    [message] = answer_messages(
        Answer("q", "en", True, [Passage(1, "d", "خبر", None, None, 2, 0, 4, "نص.", "نص.", 0.9)]), "en"
    )
    assert f"📰 {FSI}خبر{PDI} · ¶2" in message


def test_every_string_exists_in_both_languages():
    assert all(set(forms) == {"ar", "en"} and all(forms.values()) for forms in TEXTS.values())


def test_a_long_story_shows_its_newest_events_and_counts_the_earlier_in_linear_time(monkeypatch):
    measured = []
    utf16_len = formatting.utf16_len
    monkeypatch.setattr(formatting, "utf16_len", lambda s: measured.append(len(s)) or utf16_len(s))
    for n in (2_000, 10_000):
        events = [
            Event(
                f"ev-{i}",
                "2020-01-01T00:00:00+00:00" if i < n // 2 else "2026-11-28T00:00:00+00:00",
                ({"doc_id": f"d{i}", "outlet": "Reuters", "title": f"Event number {i}", "url": None, "date": None},),
            )
            for i in range(n)
        ]
        for lang, earlier in (("en", r"… and (\d+) earlier"), ("ar", r"… وأحداث أسبق: (\d+)")):
            measured.clear()
            message = timeline_message(events, lang)
            check(message)
            shown = [int(i) for i in re.findall(r"Event number (\d+)", message)]
            assert shown == list(range(n - len(shown), n)) and len(shown) > 20  # the newest, in date order
            [left_out] = re.findall(earlier, message)
            assert int(left_out) + len(shown) == n  # the rest counted
            assert message.index(re.search(earlier, message).group()) < message.index("Event number")
            # Each line measured once, only those shown and the one that did not fit: not the whole
            # message again after each line dropped.
            assert len(measured) <= len(shown) + 5 and sum(measured) <= 2 * formatting.MAX_UTF16


def test_also_reported_shows_every_report_or_counts_those_that_do_not_fit():
    sentence = "The Mosul Dam on the Tigris burst early on Sunday, flooding twelve villages downstream. " * 6
    reports = [
        Report(f"d{i}", f"Outlet {i}", f"Headline {i}", f"https://news{i}.example/" + "a" * 400, None, sentence)
        for i in range(7)
    ]
    for lang, more in (("en", r"… and (\d+) more"), ("ar", r"… ومصادر أخرى: (\d+)")):
        message = reports_message(reports, lang)
        check(message)
        shown = sum(f"Outlet {i}" in message for i in range(7))
        [left_out] = re.findall(more, message)
        assert shown + int(left_out) == 7 and shown >= 3
        assert not re.findall(more, reports_message(reports[:2], lang))  # all fit: nothing counted
    hostile = Report("d", "Feed " * 1000, "Headline", "https://e.example/1", None, "Twelve villages were flooded.")
    message = reports_message([hostile, *reports[:1]], "en")
    check(message)
    assert "Twelve villages were flooded." in message and "Outlet 0" in message
