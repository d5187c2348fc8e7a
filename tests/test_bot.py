"""The bot end to end: the unmodified python-telegram-bot stack, polling over real HTTP a
stand-in Bot API server on 127.0.0.1, with the real model and a real index."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import os
import re
import sqlite3
import threading
import time
from contextlib import asynccontextmanager
from urllib.parse import unquote

import pytest

from bot.app import build_application
from bot.logs import install_redaction
from index.build import build_from_config, build_index
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from index.store import current_build
from tests.conftest import build_file, write_config
from tests.fake_telegram import BOT, FakeTelegram
from tests.fake_web import FakeWeb

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # httpx honours proxy variables

ADMIN, USER, STRANGER = 42, 1001, 2002
LAUNCH_SITE = "شمال شرقي بغداد"


def bot_config(config, base_url, **bot_settings):
    settings = {"base_url": base_url, "admins": (ADMIN,), **bot_settings}
    return dataclasses.replace(config, bot=dataclasses.replace(config.bot, **settings))


@asynccontextmanager
async def running(fake: FakeTelegram, config, searcher: Searcher, **bot_settings):
    """The application as `run_polling` runs it, minus the signal handling."""
    app = build_application(bot_config(config, fake.base_url, **bot_settings), fake.token, searcher)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()


async def settled(telegram: FakeTelegram, app, since: int = 0, polling: bool = True) -> list:
    """The calls after position `since` once the bot has handled every update sent so far (each
    one confirmed by a later getUpdates, unless it came by webhook, and PTB's queue done with
    it): all it did, with nothing more still to come. What proves the bot stays silent."""
    if polling:
        await telegram.delivered()
    await asyncio.wait_for(app.update_queue.join(), 60)
    return [c for c in telegram.calls[since:] if c.method != "sendChatAction"]


async def until(condition, what: str, timeout: float = 10.0) -> None:
    """Wait for `condition()` to hold; fail, saying `what` never happened, after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.1)


def sent_texts(calls):
    return [c.params["text"] for c in calls]


def buttons(call):
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


async def test_start_publishes_commands_in_both_languages(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        calls = await telegram.wait_for("setMyCommands", count=2)
    by_lang = {c.params.get("language_code"): [cmd["command"] for cmd in c.params["commands"]] for c in calls}
    assert set(by_lang) == {None, "ar"} and by_lang[None] == by_lang["ar"] == [
        "ask",
        "latest",
        "follow",
        "following",
        "unfollow",
        "help",
        "sources",
        "start",
    ]


@pytest.mark.parametrize(
    "question, lang_marker",
    [
        ("من أين انطلقت الطائرات المسيرة؟", "من المقالات"),
        ("Where were the drones launched from?", "From the articles"),
    ],
)
async def test_a_question_gets_quoted_cited_passages_in_the_askers_language(
    telegram, seed_config, seed_searcher, question, lang_marker
):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send(question, user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    body = reply.params["text"]
    assert reply.params["parse_mode"] == "HTML" and reply.params["chat_id"] == USER
    assert body.startswith("🔎 " + lang_marker)
    assert body.count("<blockquote>") == 3 and "<b>1.</b>" in body and "<b>3.</b>" in body
    passage = next(block for block in body.split("<blockquote>")[1:] if LAUNCH_SITE in block)
    assert "<b>" in passage.split("</blockquote>")[0]  # its best sentence in bold
    assert "📰" in passage and "¶13" in passage  # cited: title and paragraph
    labels = [b["text"] for b in buttons(reply)]
    # a full-paragraph button per passage, one Follow for their one story, and "more"
    assert len(labels) == 5 and sum(label.startswith(("Follow", "تابِع")) for label in labels) == 1


async def test_full_paragraph_and_more_buttons(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("Who condemned the attack?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
        first_page = reply.params["text"]
        message = {"message_id": 99, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}
        para_button = next(b for b in buttons(reply) if b["callback_data"].startswith("para:"))
        more_button = next(b for b in buttons(reply) if b["callback_data"].startswith("more:"))
        assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(reply))

        since = len(telegram.calls)
        telegram.press(message, para_button["callback_data"], user_id=USER)
        [paragraph] = await telegram.wait_for("sendMessage", since=since)
        await telegram.wait_for("answerCallbackQuery", since=since)

        since = len(telegram.calls)
        telegram.press(message, more_button["callback_data"], user_id=USER)
        [more] = await telegram.wait_for("sendMessage", since=since)
    quoted = first_page.split("<blockquote>")[1].split("</blockquote>")[0].replace("<b>", "").replace("</b>", "")
    full = paragraph.params["text"].split("<blockquote>")[1].split("</blockquote>")[0]
    assert quoted in full  # the full paragraph holds the passage
    assert "<b>4.</b>" in more.params["text"] and "<b>1.</b>" not in more.params["text"]


async def test_off_topic_questions_get_the_no_answer_reply(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("How many points did the Panthers defense surrender?", user_id=USER)
        telegram.send("ما هي عاصمة فرنسا؟", user_id=USER + 1)
        replies = await telegram.wait_for("sendMessage", count=2)
    texts = {c.params["chat_id"]: c.params["text"] for c in replies}
    assert texts[USER].startswith("I found nothing in the articles")
    assert texts[USER + 1].startswith("لم أجد في المقالات")
    assert all("reply_markup" not in c.params for c in replies)


async def test_greetings_and_thanks_get_a_reply_in_kind_not_a_search(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("Hi!", user_id=USER)
        telegram.send("السلام عليكم", user_id=USER + 1)
        telegram.send("Thank you so much 🙏", user_id=USER + 2)
        telegram.send("شكراً جزيلاً", user_id=USER + 3)
        telegram.send("Hi, where were the drones launched from?", user_id=USER + 4)
        replies = await telegram.wait_for("sendMessage", count=5)
    texts = {c.params["chat_id"]: c.params["text"] for c in replies}
    assert texts[USER].startswith("Hello! I am Sanad")
    assert texts[USER + 1].startswith("أهلاً! أنا سند")
    assert texts[USER + 2].startswith("You're welcome")
    assert texts[USER + 3].startswith("عفواً")
    assert LAUNCH_SITE in texts[USER + 4]  # a greeting before a question: still a question


async def test_in_groups_only_ask_mentions_and_replies_count(telegram, seed_config, seed_searcher):
    group = -100123
    async with running(telegram, seed_config, seed_searcher) as app:
        since = len(telegram.calls)
        telegram.send("Where were the drones launched from?", user_id=USER, chat_id=group, chat_type="supergroup")
        assert not await settled(telegram, app, since)
        telegram.send("/ask Where were the drones launched from?", user_id=USER, chat_id=group, chat_type="supergroup")
        [by_command] = await telegram.wait_for("sendMessage")
        since = len(telegram.calls)
        telegram.send(  # an emoji first: Telegram counts entity offsets in UTF-16 units
            f"🇮🇶 @{BOT['username']} من أين انطلقت الطائرات المسيرة؟",
            user_id=USER,
            chat_id=group,
            chat_type="supergroup",
        )
        [by_mention] = await telegram.wait_for("sendMessage", since=since)
        since = len(telegram.calls)
        bot_message = {
            "message_id": 5,
            "date": 0,
            "chat": {"id": group, "type": "supergroup"},
            "from": BOT,
            "text": "earlier reply",
        }
        telegram.send(
            "Who sent Qaani to Baghdad?", user_id=USER, chat_id=group, chat_type="supergroup", reply_to=bot_message
        )
        [by_reply] = await telegram.wait_for("sendMessage", since=since)
    assert LAUNCH_SITE in by_command.params["text"] and LAUNCH_SITE in by_mention.params["text"]
    assert by_mention.params["text"].startswith("🔎 من المقالات")
    assert by_reply.params["chat_id"] == group and "<blockquote>" in by_reply.params["text"]


async def test_users_outside_the_allow_list_get_one_refusal_then_nothing(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher, allowed_users=(USER,)) as app:
        telegram.send("just chatting", user_id=STRANGER, chat_id=-100777, chat_type="supergroup")  # not for the bot
        telegram.send("Where were the drones launched from?", user_id=STRANGER)
        [refusal] = await telegram.wait_for("sendMessage")
        since = len(telegram.calls)
        telegram.send("Where were the drones launched from?", user_id=STRANGER)
        telegram.send("/sources", user_id=STRANGER)
        telegram.inline_query("drones", user_id=STRANGER)
        message = {"message_id": 1, "date": 0, "chat": {"id": STRANGER, "type": "private"}, "from": BOT, "text": "x"}
        telegram.press(message, "more:abc:3", user_id=STRANGER)
        await telegram.wait_for("answerCallbackQuery", since=since)  # the button stops spinning, silently
        quiet = await settled(telegram, app, since)
        assert not [c for c in quiet if c.method == "sendMessage"]
        assert all("text" not in c.params for c in quiet if c.method == "answerCallbackQuery")
        assert [c.params["results"] for c in quiet if c.method == "answerInlineQuery"] == [[]]
        telegram.send("Where were the drones launched from?", user_id=USER)
        [allowed] = await telegram.wait_for("sendMessage", since=since)
    assert refusal.params["text"].startswith("Sorry, this bot is private") and refusal.params["chat_id"] == STRANGER
    assert allowed.params["chat_id"] == USER and LAUNCH_SITE in allowed.params["text"]


async def test_the_rate_limit_asks_a_fast_user_to_slow_down(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher, rate_limit_per_minute=2) as app:
        for question in ("Who is Qaani?", "Who is Kadhimi?", "Who is Shamkhani?", "Who is Biden?"):
            telegram.send(question, user_id=USER)
        replies = await telegram.wait_for("sendMessage", count=3)
        assert len([c for c in await settled(telegram, app) if c.method == "sendMessage"]) == 3  # 4th: silence
    assert sum(t.startswith("Please slow down") for t in sent_texts(replies)) == 1


async def test_admin_commands_refuse_others_and_stats_report(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("/stats", user_id=USER)
        telegram.send("/reload", user_id=USER)
        refusals = await telegram.wait_for("sendMessage", count=2)
        since = len(telegram.calls)
        telegram.send("/stats", user_id=ADMIN)
        [stats] = await telegram.wait_for("sendMessage", since=since)
    assert all(t == "This command is for administrators only." for t in sent_texts(refusals))
    assert "Documents: 1" in stats.params["text"] and "multilingual-e5-small" in stats.params["text"]


async def test_help_sources_and_stale_buttons(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("/help", user_id=USER)
        [help_reply] = await telegram.wait_for("sendMessage")
        since = len(telegram.calls)
        telegram.send("/sources", user_id=USER, language_code="ar")
        [sources] = await telegram.wait_for("sendMessage", since=since)
        message = {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}
        for data in ("more:expired:3", "para:" + "x" * 80, "garbage"):
            telegram.press(message, data, user_id=USER)
        answers = await telegram.wait_for("answerCallbackQuery", count=3)
    assert "/ask" in help_reply.params["text"] and "sources" in help_reply.params["text"]
    assert sources.params["text"].startswith("📚 المقالات المفهرسة: 1")
    assert all(a.params["text"].startswith("This button has expired") for a in answers)


def refused(caplog) -> list:
    """The reload watcher's log lines saying it kept the index in use instead of a bad build."""
    return [r for r in caplog.records if "kept the previous index" in r.getMessage()]


def small_index(tmp_path, models, text):
    config = load_config(write_config(tmp_path, bot={"reload_check_seconds": 0.2}))
    build_index(config, models, [Document("news.txt", "News", "https://example.com/n", "2021-11-09", "en", text)])
    return config


async def serving(telegram: FakeTelegram, searcher: Searcher, word: str) -> None:
    """Wait (up to 5 s) until the running bot's watcher has switched to a build with `word`."""
    await until(lambda: word in searcher.index.articles()[0].text, f"serving a build with {word!r}", 5)


async def test_a_new_build_is_served_without_restart_and_reload_reports_it(telegram, tmp_path, models):
    config = small_index(tmp_path, models, "The bridge over the river was closed for repairs on Monday.")
    searcher = Searcher(config, models)
    async with running(telegram, config, searcher, reload_check_seconds=0.2):
        telegram.send("Why was the bridge closed?", user_id=USER)
        [before] = await telegram.wait_for("sendMessage")
        build_index(
            config,
            models,
            [
                Document(
                    "news.txt",
                    "News",
                    "https://example.com/n",
                    "2021-11-10",
                    "en",
                    "The museum reopened after a year of renovation work.",
                )
            ],
        )
        await serving(telegram, searcher, "museum")
        since = len(telegram.calls)
        telegram.send("When did the museum reopen?", user_id=USER)
        [after] = await telegram.wait_for("sendMessage", since=since)
        since = len(telegram.calls)
        telegram.send("/reload", user_id=ADMIN)
        [reload_reply] = await telegram.wait_for("sendMessage", since=since)
    assert "bridge" in before.params["text"] and 'href="https://example.com/n#:~:text=' in before.params["text"]
    assert "museum" in after.params["text"] and "10 Nov 2021" in after.params["text"]
    assert reload_reply.params["text"].startswith("Already serving the newest index")


async def test_errors_reach_the_user_and_the_log_never_holds_the_token(
    telegram, seed_config, seed_searcher, caplog, monkeypatch
):
    previous = install_redaction(telegram.token)
    caplog.set_level(logging.DEBUG)
    try:
        async with running(telegram, seed_config, seed_searcher) as app:
            telegram.send("Where were the drones launched from?", user_id=USER)
            await telegram.wait_for("sendMessage")

            def broken(*args, **kwargs):
                raise RuntimeError(f"search exploded near {telegram.base_url}{telegram.token}/x")

            monkeypatch.setattr(app.bot_data["sanad"].service.searcher, "ask", broken)
            since = len(telegram.calls)
            telegram.send("من وصل إلى بغداد؟", user_id=USER)
            [error_reply] = await telegram.wait_for("sendMessage", since=since)
    finally:
        logging.setLogRecordFactory(previous)
    assert error_reply.params["text"].startswith("عذراً، حدث خطأ")
    assert "getUpdates" in caplog.text and "search exploded" in caplog.text
    assert telegram.token not in caplog.text
    assert "<token>" in caplog.text


SERVER_ERROR = (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
TOO_MANY = (
    429,
    {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    },
)


async def test_replies_survive_bot_api_faults_exactly_once(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher) as app:
        await telegram.wait_for("setMyCommands", count=2)
        telegram.fail("getUpdates", SERVER_ERROR, ("drop",))
        telegram.fail("sendMessage", SERVER_ERROR, ("drop",), TOO_MANY, ("slow", 1.0))
        telegram.send("Where were the drones launched from?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage", timeout=60)
        assert not telegram.faults["sendMessage"] and not telegram.faults["getUpdates"]  # every fault was hit
        telegram.send("من وصل إلى بغداد؟", user_id=USER + 1)
        [second] = await telegram.wait_for("sendMessage", since=telegram.calls.index(reply) + 1)
        assert len([c for c in await settled(telegram, app) if c.method == "sendMessage"]) == 2  # no duplicates
    assert LAUNCH_SITE in reply.params["text"] and second.params["chat_id"] == USER + 1


async def test_a_damaged_new_build_is_refused_and_the_old_one_kept(telegram, tmp_path, models, caplog):
    config = small_index(tmp_path, models, "The bridge over the river was closed for repairs on Monday.")
    searcher = Searcher(config, models)
    async with running(telegram, config, searcher, reload_check_seconds=0.2):
        build_index(config, models, [Document("news.txt", "News", None, None, "en", "The museum reopened.")])
        build_file(current_build(config.index_dir), "chunks.npy", segment=-1).write_text("{broken", encoding="utf-8")
        await until(lambda: refused(caplog), "the watcher refusing the damaged build")
        telegram.send("Why was the bridge closed?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    assert "bridge" in reply.params["text"]
    refusals = refused(caplog)
    assert len(refusals) == 1 and "chunks.npy" in refusals[0].getMessage()


async def test_a_slow_search_shows_typing_first(telegram, seed_config, seed_searcher, monkeypatch):
    real_ask = seed_searcher.ask

    def slow_ask(*args, **kwargs):
        time.sleep(1.0)
        return real_ask(*args, **kwargs)

    async with running(telegram, seed_config, seed_searcher) as app:
        monkeypatch.setattr(app.bot_data["sanad"].service.searcher, "ask", slow_ask)
        telegram.send("Where were the drones launched from?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    [typing] = [c for c in telegram.calls if c.method == "sendChatAction"]
    assert typing.params["action"] == "typing" and typing.at < reply.at


async def test_webhook_mode_answers_updates_telegram_posts_and_refuses_forged_ones(
    telegram, seed_config, seed_searcher
):
    import socket

    import aiohttp

    from bot.app import webhook_options

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = bot_config(
        seed_config,
        telegram.base_url,
        mode="webhook",
        listen="127.0.0.1",
        port=port,
        webhook_url=f"http://127.0.0.1:{port}/",
    )
    options = webhook_options(config.bot, telegram.token)
    assert telegram.token not in options["webhook_url"] and telegram.token not in options["secret_token"]
    app = build_application(config, telegram.token, seed_searcher)
    await app.initialize()
    await app.start()
    await app.updater.start_webhook(**options)
    try:
        [registered] = await telegram.wait_for("setWebhook")
        assert registered.params["url"] == options["webhook_url"]
        assert registered.params["secret_token"] == options["secret_token"]
        update = {"update_id": 1, "message": telegram.message("Where were the drones launched from?", USER)}
        async with aiohttp.ClientSession() as http:
            forged = await http.post(
                options["webhook_url"], json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            genuine = await http.post(
                options["webhook_url"],
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": options["secret_token"]},
            )
        assert forged.status == 403 and genuine.status == 200
        [reply] = await telegram.wait_for("sendMessage")
        assert len([c for c in await settled(telegram, app, polling=False) if c.method == "sendMessage"]) == 1
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert LAUNCH_SITE in reply.params["text"]


PRIVATE_MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}


async def test_a_forged_more_offset_searches_nothing_and_the_bot_stays_responsive(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher) as app:
        service = app.bot_data["sanad"].service
        telegram.send("Who condemned the attack?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
        key = next(b for b in buttons(reply) if b["callback_data"].startswith("more:"))["callback_data"].split(":")[1]
        searched = service.served
        since = len(telegram.calls)
        for forged in (f"more:{key}:99999999", f"more:{key}:9999", f"more:{key}:²", f"more:{key}:0", f"para:{key}:77"):
            telegram.press(PRIVATE_MESSAGE, forged, user_id=USER)
        answers = await telegram.wait_for("answerCallbackQuery", count=5, since=since)
        assert service.served == searched  # none of them ran a search
        assert not [c for c in telegram.calls[since:] if c.method == "sendMessage"]
        assert all(a.params.get("text") for a in answers)  # each one told why nothing came
        telegram.send("من وصل إلى بغداد؟", user_id=USER)
        [next_reply] = await telegram.wait_for("sendMessage", since=since)
    assert "<blockquote>" in next_reply.params["text"]


async def test_more_pages_follow_on_without_repeats_and_an_old_page_button_shows_nothing(
    telegram, seed_config, seed_searcher
):
    async with running(telegram, seed_config, seed_searcher) as app:
        telegram.send("What did Iran say about the attack?", user_id=USER)
        [first] = await telegram.wait_for("sendMessage")
        more = next(b for b in buttons(first) if b["callback_data"].startswith("more:"))["callback_data"]
        pages = [first]
        since = len(telegram.calls)
        telegram.press(PRIVATE_MESSAGE, more, user_id=USER)
        [second] = await telegram.wait_for("sendMessage", since=since)
        pages.append(second)
        since = len(telegram.calls)
        telegram.press(PRIVATE_MESSAGE, more, user_id=USER)  # the first page's button again
        [again] = await telegram.wait_for("answerCallbackQuery", since=since)
        assert not [c for c in await settled(telegram, app, since) if c.method == "sendMessage"]
    quotes = [
        block.split("</blockquote>")[0].replace("<b>", "").replace("</b>", "")
        for page in pages
        for block in page.params["text"].split("<blockquote>")[1:]
    ]
    assert len(quotes) == 6 and len(set(quotes)) == 6
    assert "<b>4.</b>" in second.params["text"] and again.params["text"] == "No more results for this question."


async def test_full_paragraph_after_the_article_changed_says_so(telegram, tmp_path, models):
    config = small_index(tmp_path, models, "The bridge over the river was closed for repairs on Monday.")
    searcher = Searcher(config, models)
    async with running(telegram, config, searcher, reload_check_seconds=0.2) as app:
        telegram.send("Why was the bridge closed?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
        para = next(b for b in buttons(reply) if b["callback_data"].startswith("para:"))["callback_data"]
        build_index(
            config, models, [Document("news.txt", "News", None, None, "en", "The museum reopened after a year.")]
        )
        await serving(telegram, searcher, "museum")
        since = len(telegram.calls)
        telegram.press(PRIVATE_MESSAGE, para, user_id=USER)
        [alert] = await telegram.wait_for("answerCallbackQuery", since=since)
        assert not [c for c in await settled(telegram, app, since) if c.method == "sendMessage"]
    assert alert.params["text"].startswith("This article has changed")


@pytest.mark.parametrize("manifest", ["[1]", '{"format_version": "4"}', '"text"'])
async def test_the_reload_watcher_survives_any_bad_build_and_takes_the_next_good_one(
    telegram, tmp_path, models, caplog, manifest
):
    config = small_index(tmp_path, models, "The bridge over the river was closed for repairs on Monday.")
    searcher = Searcher(config, models)
    async with running(telegram, config, searcher, reload_check_seconds=0.2):
        build_index(config, models, [Document("news.txt", "News", None, None, "en", "The museum reopened.")])
        (current_build(config.index_dir) / "manifest.json").write_text(manifest, encoding="utf-8")
        await until(lambda: refused(caplog), "the watcher refusing the broken manifest")
        build_index(config, models, [Document("news.txt", "News", None, None, "en", "The zoo got a new panda.")])
        await serving(telegram, searcher, "panda")
        telegram.send("What did the zoo get?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    assert "panda" in reply.params["text"]
    assert refused(caplog)


def test_a_rejected_token_never_reaches_the_process_output(tmp_path, seed_config):
    """A wrong bot.base_url answers 404, which python-telegram-bot reports as InvalidToken
    with the token in its message; the process must not print any part of it."""
    import http.server
    import subprocess
    import sys
    import threading

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"ok":false,"error_code":404,"description":"Not Found"}')

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bot_id, secret = "7123456789", "AAHfakeSecretPartOfTheToken_x9Q2"
    config = write_config(
        tmp_path, data_dir=str(seed_config.data_dir), bot={"base_url": f"http://127.0.0.1:{server.server_port}/bot"}
    )
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=f"{bot_id}:{secret}")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        server.shutdown()
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "rejected the token" in output
    assert bot_id not in output and secret not in output and "Traceback" not in output


async def test_the_bot_polls_its_feeds_and_answers_from_new_articles_without_a_restart(
    telegram, tmp_path, models, monkeypatch
):
    monkeypatch.setattr("bot.polling.FIRST_POLL_SECONDS", 0.1)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "bridge.txt").write_text("Bridge\n\nThe old bridge over the Tigris was closed on Monday for repairs.")
    with FakeWeb() as web:
        web.news_site()
        sources = {"feeds": [web.url("/feed-en.xml")], "poll_minutes": 0.05}
        config = load_config(write_config(tmp_path, seeds_dir=str(seeds), sources=sources))
        build_from_config(config, models, warn=lambda _: None)
        searcher = Searcher(config, models)
        async with running(telegram, config, searcher, reload_check_seconds=60):  # the poll switches builds itself
            # The worker starts and loads its models first: up to 2 min on a busy machine.
            await until(lambda: searcher.index.n_documents == 2, "the feed's article served", 120)
            telegram.send("How many homes will the new solar plant in Basra power?", user_id=USER)
            [reply] = await telegram.wait_for("sendMessage")
            telegram.send("Why was the bridge over the Tigris closed?", user_id=USER)
            [second] = await telegram.wait_for("sendMessage", since=telegram.calls.index(reply) + 1)
            await until(lambda: web.hits["/feed-en.xml"] >= 2, "the next poll", 60)  # 3 s after the first ends
        polls = web.hits["/feed-en.xml"]
    assert "350,000 homes" in reply.params["text"] and web.url("/news/solar-plant.html") in reply.params["text"]
    assert "repairs" in second.params["text"]  # the seeds stay in the archive beside the feed
    assert polls >= 2 and web.hits["/news/solar-plant.html"] == 1  # later polls got a 304


async def test_a_period_question_says_which_period_and_cites_dates_for_people(telegram, tmp_path, models):
    config = load_config(write_config(tmp_path))
    docs = [
        Document("a.txt", "Port", None, "2018-03-12", "en", "The port of Umm Qasr received 40 cargo ships in March."),
        Document("b.txt", "Port", None, "2019-05-02", "en", "The port of Umm Qasr received 55 cargo ships in May."),
    ]
    build_index(config, models, docs)
    async with running(telegram, config, Searcher(config, models)):
        telegram.send("How many cargo ships did Umm Qasr receive in March 2018?", user_id=USER)
        [english] = await telegram.wait_for("sendMessage")
        telegram.send("كم سفينة استقبل ميناء أم قصر في مارس 2018؟", user_id=USER)
        [arabic] = await telegram.wait_for("sendMessage", since=telegram.calls.index(english) + 1)
    body = english.params["text"]
    assert body.startswith("🔎 From articles dated 1\u2009–\u200931 Mar 2018:")  # CLDR thin spaces
    assert "40 cargo ships" in body and "55 cargo ships" not in body and "12 Mar 2018" in body
    assert arabic.params["text"].startswith("🔎 من المقالات المؤرخة 1–31 مارس 2018:")
    assert "12 مارس 2018" in arabic.params["text"]


async def test_a_citation_link_scrolls_to_the_quoted_sentence(telegram, tmp_path, models):
    article = (
        "The ministry said on Sunday that the bridge over the Tigris in Baghdad will be closed for three weeks. "
        "Engineers found cracks in two of its concrete pillars during an inspection last month. "
        "Traffic will be diverted to the Jadriya bridge, the ministry added."
    )
    config = small_index(tmp_path, models, article)
    async with running(telegram, config, Searcher(config, models)):
        telegram.send("What did the engineers find in the pillars of the bridge?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    href = re.search(r'<a href="([^"]+)">', reply.params["text"]).group(1)
    url, directive = html.unescape(href).split("#:~:text=")
    assert url == "https://example.com/n"
    start, end = [unquote(part) for part in directive.split(",")]  # the highlighted sentence's ends
    assert (start, end) == ("Engineers found cracks in", "an inspection last month.")
    assert start in article and end in article


async def test_buttons_keep_working_after_the_bot_restarts(telegram, seed_config, seed_searcher):
    message = {"message_id": 99, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}
    async with running(telegram, seed_config, seed_searcher):
        telegram.send("Who condemned the attack?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    para_button = next(b for b in buttons(reply) if b["callback_data"].startswith("para:"))
    more_button = next(b for b in buttons(reply) if b["callback_data"].startswith("more:"))
    async with running(telegram, seed_config, seed_searcher):  # a new process would read the same store
        since = len(telegram.calls)
        telegram.press(message, para_button["callback_data"], user_id=USER)
        [paragraph] = await telegram.wait_for("sendMessage", since=since)
        since = len(telegram.calls)
        telegram.press(message, more_button["callback_data"], user_id=USER)
        [more] = await telegram.wait_for("sendMessage", since=since)
    quoted = reply.params["text"].split("<blockquote>")[1].split("</blockquote>")[0]
    quoted = quoted.replace("<b>", "").replace("</b>", "")
    assert quoted in paragraph.params["text"].split("<blockquote>")[1]
    assert "<b>4.</b>" in more.params["text"]


async def test_an_inline_query_lists_passages_that_send_the_quoted_cited_passage(telegram, seed_config, seed_searcher):
    async with running(telegram, seed_config, seed_searcher, allowed_users=(USER,)):
        telegram.inline("Where were the drones launched from?", user_id=USER)
        [answered] = await telegram.wait_for("answerInlineQuery")
        telegram.inline("Where were the drones launched from?", user_id=STRANGER)
        [refused] = await telegram.wait_for("answerInlineQuery", since=telegram.calls.index(answered) + 1)
    results = answered.params["results"]
    assert 1 <= len(results) <= 5 and all(r["type"] == "article" for r in results)
    launch = next(r for r in results if LAUNCH_SITE in r["input_message_content"]["message_text"])
    content = launch["input_message_content"]
    assert content["parse_mode"] == "HTML" and content["message_text"].startswith("❓ Where were the drones")
    assert "¶13" in content["message_text"] and launch["description"] in content["message_text"].replace(
        "<b>", ""
    ).replace("</b>", "")
    assert refused.params["results"] == []  # allow-lists apply
    # Telegram may cache results only for the user they were made for, and with allow-lists not at all.
    assert answered.params["is_personal"] is True and answered.params["cache_time"] == 0


async def test_inline_results_of_an_open_bot_are_cached_per_user_and_have_valid_ids(telegram, tmp_path, models):
    config = load_config(write_config(tmp_path))
    long_id = "تقارير/" + "ميناء-الفاو-الكبير-" * 6 + ".txt"  # far over 64 bytes, two bytes a letter
    build_index(config, models, [Document(long_id, "Port", None, None, "en", "The Faw port received its first ship.")])
    async with running(telegram, config, Searcher(config, models)):
        telegram.inline("Which ship did the Faw port receive?", user_id=USER)
        [answered] = await telegram.wait_for("answerInlineQuery")
    [result] = answered.params["results"]
    assert answered.params["is_personal"] is True and answered.params["cache_time"] > 0
    assert 1 <= len(result["id"].encode()) <= 64


async def test_a_slow_button_database_never_holds_up_other_chats(telegram, seed_config, seed_searcher):
    """A reply's buttons are saved in a database; while it waits on a lock (another worker
    writing, a reconnect), the bot goes on answering everyone else."""
    async with running(telegram, seed_config, seed_searcher) as app:
        await telegram.wait_for("setMyCommands", count=2)
        locker = sqlite3.connect(seed_config.data_dir / "buttons.sqlite", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        try:
            since = len(telegram.calls)
            telegram.send("Where were the drones launched from?", user_id=USER)  # its buttons must wait
            await until(lambda: app.bot_data["sanad"].service.served >= 1, "the question searched", 30)
            telegram.send("/help", user_id=USER + 1)
            [help_reply] = await telegram.wait_for("sendMessage", since=since)
            assert help_reply.params["chat_id"] == USER + 1  # answered while the first reply waits
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        [_, answer] = await telegram.wait_for("sendMessage", count=2, since=since)
    assert answer.params["chat_id"] == USER and LAUNCH_SITE in answer.params["text"]


async def test_latest_lists_the_newest_first_and_sources_sums_up_the_archive(telegram, tmp_path, models):
    config = load_config(write_config(tmp_path))
    docs = [
        Document(
            "a.txt", "Port in 2018", "https://e.x/a", "2018-03-12", "en", "The port of Umm Qasr received 40 ships."
        ),
        Document("c.txt", "Port now", "https://e.x/c", "2026-11-27", "en", "The port of Umm Qasr received 61 ships."),
        Document("b.txt", "Dam talks", "https://e.x/b", "2019-05-02", "en", "Talks on the Nile dam resumed in Cairo."),
        Document("d.txt", "Undated", None, None, "en", "The port of Umm Qasr is Iraq's gateway for grain."),
    ]
    build_index(config, models, docs)
    async with running(telegram, config, Searcher(config, models)):
        replies = []
        for command in ("/latest", "/latest port of Umm Qasr ships", "/sources"):
            since = len(telegram.calls)
            telegram.send(command, user_id=USER)
            replies += [(await telegram.wait_for("sendMessage", since=since))[0].params["text"]]
    latest, on_topic, sources = replies
    assert latest.startswith("🗞 Newest articles:")
    assert latest.index("Port now") < latest.index("Dam talks") < latest.index("Port in 2018")
    assert "27 Nov 2026" in latest and "Undated" not in latest
    assert on_topic.index("Port now") < on_topic.index("Port in 2018") and "Dam talks" not in on_topic
    assert sources.startswith("📚 Indexed articles: 4") and "Dated 12 Mar 2018" in sources
    assert "By outlet:\n• e.x: 3\nWith no outlet named:\n• article files: 1" in sources  # the linked ones by their site
    assert sources.index("Port now") < sources.index("Port in 2018")


async def test_two_workers_on_one_database_answer_each_others_buttons_and_serve_one_update(
    telegram, tmp_path, models, postgres_server
):
    """Two bot processes' worth of state (separate data folders) on one PostgreSQL store: a
    button of a reply by the first works on the second, and an article added by a command
    elsewhere is served by both without a restart."""
    from index.ingest.pipeline import add_articles
    from tests.conftest import new_database

    store = {"backend": "postgres", "postgres_url": new_database(postgres_server)}
    configs = [load_config(write_config(tmp_path / name, store=store)) for name in ("first", "second")]
    build_from_config(configs[0], models, warn=lambda _: None)
    workers = [Searcher(config, models) for config in configs]
    message = {"message_id": 99, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}
    async with running(telegram, configs[0], workers[0]):
        telegram.send("Who condemned the attack?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
    more_button = next(b for b in buttons(reply) if b["callback_data"].startswith("more:"))
    article = tmp_path / "dam.txt"
    article.write_text("Mosul Dam\n\nGrouting at the Mosul Dam will go on for eleven more years.", encoding="utf-8")
    async with running(telegram, configs[1], workers[1], reload_check_seconds=0.2):
        since = len(telegram.calls)
        telegram.press(message, more_button["callback_data"], user_id=USER)
        [more] = await telegram.wait_for("sendMessage", since=since)
        add_articles(configs[0], models, [str(article)], warn=lambda _: None)  # the first worker's side
        await until(lambda: workers[1].index.n_documents == 2, "the second worker serving the new article", 5)
        since = len(telegram.calls)
        telegram.send("How long will grouting at the Mosul Dam go on?", user_id=USER)
        [dam] = await telegram.wait_for("sendMessage", since=since)
    assert "<b>4.</b>" in more.params["text"]
    assert "eleven more years" in dam.params["text"]
    assert workers[0].reload() and "eleven more years" in workers[0].ask("Mosul Dam grouting").passages[0].text


async def test_a_reply_says_who_else_reported_it_and_its_buttons_show_their_sentences_and_the_timeline(
    telegram, tmp_path, models, monkeypatch
):
    from bot import handlers
    from tests.test_stories import ROWS, corpus

    laid_out_on, lay_out = [], handlers.timeline_message  # a long timeline takes a while: never on the event loop
    monkeypatch.setattr(
        handlers, "timeline_message", lambda *args: laid_out_on.append(threading.current_thread()) or lay_out(*args)
    )
    config = load_config(write_config(tmp_path))
    build_from_config(config, models, corpus=corpus(tmp_path, ROWS), warn=lambda _: None)
    async with running(telegram, config, Searcher(config, models)):
        telegram.send("How many villages did the Mosul Dam flood?", user_id=USER)
        [reply] = await telegram.wait_for("sendMessage")
        first_block = reply.params["text"].split("<b>2.</b>")[0]
        assert "Also reported by: " in first_block
        pressed = {}
        for action in ("also", "time"):
            data = next(
                b["callback_data"]
                for b in buttons(reply)
                if b["callback_data"].startswith(f"{action}:") and b["callback_data"].endswith(":1")
            )
            since = len(telegram.calls)
            telegram.press(PRIVATE_MESSAGE, data, user_id=USER)
            [pressed[action]] = await telegram.wait_for("sendMessage", since=since)
        since = len(telegram.calls)
        telegram.send("/sources", user_id=USER)
        [listing] = await telegram.wait_for("sendMessage", since=since)
    sources = listing.params["text"]
    other = "France 24" if "France 24" in first_block.split("Also reported by: ")[1] else "BBC Arabic"
    also = pressed["also"].params["text"]
    assert also.startswith("📣 Also reported by:") and other in also and "twelve villages" in also
    timeline = pressed["time"].params["text"]
    assert laid_out_on and threading.main_thread() not in laid_out_on
    assert timeline.startswith("🧭 How the story unfolded (2 events):")
    assert timeline.index("1 Mar 2026") < timeline.index("4 Mar 2026") and "arrests" in timeline
    assert "By outlet:" in sources and "BBC Arabic: 3" in sources and "France 24: 1" in sources
