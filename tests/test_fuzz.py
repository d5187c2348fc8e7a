"""Hostile and odd input through the real handlers: every user gets one sensible reply and
nothing goes unhandled. Inputs come from hypothesis with a fixed seed, so runs repeat."""

from __future__ import annotations

import logging

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from tests.fake_telegram import BOT
from tests.test_bot import running, settled

NASTY = [
    "",
    " ",
    "\u202e",
    "\u200b",
    "\u200f",
    "\x00",
    "\x07",
    "<b>",
    "</blockquote>",
    "&amp;",
    "**",
    "`",
    "[x](y)",
    "🙂",
    "🇸🇦",
    "من",
    "أين",
    "drones",
    "\u0640",
    "\ufeff",
    "؟",
    "\n",
    "\t",
    "\\",
]


def collect(strategy, count: int) -> list:
    """`count` examples of `strategy`, drawn reproducibly by hypothesis."""
    found: list = []

    @seed(20261129)
    @settings(max_examples=count, database=None, deadline=None)
    @given(strategy)
    def draw(value):
        found.append(value)

    draw()
    return found


questions = st.one_of(
    st.lists(st.sampled_from(NASTY), min_size=1, max_size=40).map("".join),
    st.text(min_size=1, max_size=200),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=50).map(lambda t: t * 2000),  # long repeats
    st.just("من أين انطلقت الطائرات؟ drones " * 3300),  # ~100k characters
)


async def test_every_fuzzed_question_gets_exactly_one_sensible_reply(telegram, seed_config, seed_searcher, caplog):  # noqa: F811
    inputs = [q for q in collect(questions, 60) if q.strip() and not q.lstrip().startswith("/")]
    caplog.set_level(logging.WARNING)
    async with running(telegram, seed_config, seed_searcher, rate_limit_per_minute=1000) as app:
        for i, question in enumerate(inputs):
            telegram.send(question, user_id=5000 + i)
        replies = await telegram.wait_for("sendMessage", count=len(inputs), timeout=120)
        extra = [c for c in await settled(telegram, app) if c.method == "sendMessage"]
    assert len(extra) == len(inputs)  # exactly one reply each
    by_user = {c.params["chat_id"]: c.params["text"] for c in replies}
    assert set(by_user) == {5000 + i for i in range(len(inputs))}
    for text in by_user.values():
        assert text.startswith(("🔎", "I found nothing", "لم أجد"))  # an answer or the no-answer reply
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


callback_data = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda a, k, v: f"{a}:{k}:{v}",
        st.sampled_from(["more", "para", "x"]),
        st.text(max_size=10),
        st.integers(-5, 10**12),
    ),
    st.just("more:" + "A" * 300 + ":1"),
)


async def test_forged_stale_and_oversized_buttons_are_answered_politely(telegram, seed_config, seed_searcher, caplog):  # noqa: F811
    datas = collect(callback_data, 40)
    caplog.set_level(logging.WARNING)
    message = {"message_id": 1, "date": 0, "chat": {"id": 1001, "type": "private"}, "from": BOT, "text": "x"}
    async with running(telegram, seed_config, seed_searcher):
        for data in datas:
            telegram.press(message, data, user_id=1001)
        answers = await telegram.wait_for("answerCallbackQuery", count=len(datas), timeout=60)
    assert all(a.params.get("text", "").startswith("This button has expired") for a in answers)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
