"""Following, end to end on the real bot against the stand-in Bot API: a reader follows a story
(the button under a passage) or a standing question (/follow), articles are added while the bot
serves (as `sanad-index add` from cron does), and each follower hears of what is new once,
across restarts and with two workers on one database."""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import asynccontextmanager

from bot.app import build_application
from index.build import build_from_config
from index.config import load_config
from index.follows import open_follows
from index.ingest.pipeline import add_articles
from index.search import Searcher
from tests.conftest import new_database, write_config
from tests.fake_telegram import BOT
from tests.test_bot import bot_config, buttons, running, until
from tests.test_stories import ROWS

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

USER, OTHER = 1001, 1002
ROW = {r["id"]: r for r in ROWS}
PUSH = "🔔 New in a story you follow"
FOLLOWED_FIRST = ["bbc-dam", "bbc-arrests"]  # BBC's reports; France 24's and the cinema come later


def _archive(tmp_path, models, **store):
    config = load_config(write_config(tmp_path, store=store, bot={"reload_check_seconds": 0.2}))
    corpus = tmp_path / "archive.jsonl"
    corpus.write_text("".join(json.dumps(ROW[i], ensure_ascii=False) + "\n" for i in FOLLOWED_FIRST), encoding="utf-8")
    build_from_config(config, models, corpus=corpus, warn=lambda _: None)
    return config


def _add(config, models, tmp_path, article_id: str) -> None:
    """`sanad-index add` of one more article, as a cron job runs it beside the bot."""
    path = tmp_path / f"{article_id}.jsonl"
    path.write_text(json.dumps(ROW[article_id], ensure_ascii=False) + "\n", encoding="utf-8")
    add_articles(config, models, [str(path)], warn=lambda _: None)


def _message(chat: int) -> dict:
    return {"message_id": 99, "date": 0, "chat": {"id": chat, "type": "private"}, "from": BOT, "text": "x"}


async def _follow_story(telegram, user: int) -> None:
    """Ask about the dam, press Follow under the first passage, see it confirmed."""
    since = len(telegram.calls)
    telegram.send("How many villages did the Mosul Dam flood?", user_id=user)
    [reply] = await telegram.wait_for("sendMessage", since=since, where=lambda c: c.params["chat_id"] == user)
    follow = next(b for b in buttons(reply) if b["callback_data"].startswith("follow:"))
    assert follow["text"].startswith("Follow")
    since = len(telegram.calls)
    telegram.press(_message(user), follow["callback_data"], user_id=user)
    [said] = await telegram.wait_for("sendMessage", since=since)
    assert said.params["text"].startswith("🔔 You will hear of every new development in this story")


def _pushes(telegram, chat: int | None = None) -> list:
    return [
        c
        for c in telegram.calls
        if c.method == "sendMessage" and c.params["text"].startswith("🔔 New") and chat in (None, c.params["chat_id"])
    ]


def _nothing_due(config) -> bool:
    follows = open_follows(config)
    try:
        return not follows.due_chats()
    finally:
        follows.close()


async def _looked_at(config, searcher: Searcher, n_documents: int) -> None:
    """Wait until the bot serves `n_documents` articles and has looked at each for its followers
    (and written what they owe)."""
    follows = open_follows(config)
    try:
        await until(lambda: searcher.index.n_documents == n_documents, f"{n_documents} articles served", 60)
        await until(lambda: follows.unseen(list(searcher.index.doc_row)) == [], "new articles looked at", 60)
    finally:
        follows.close()


async def test_a_followed_story_pushes_once_for_its_event_and_never_for_an_unrelated_article(
    telegram, tmp_path, models
):
    config = _archive(tmp_path, models)
    searcher = Searcher(config, models)
    async with running(telegram, config, searcher, reload_check_seconds=0.2):
        await _follow_story(telegram, USER)
        telegram.send("/follow Riyadh cinema", user_id=OTHER)  # a standing question
        [said] = await telegram.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == OTHER)
        assert said.params["text"].startswith("🔔 I will tell you of every new article that answers")

        _add(config, models, tmp_path, "f24-dam")  # the same event, from another outlet
        [push] = await telegram.wait_for("sendMessage", where=lambda c: c.params["text"].startswith(PUSH), timeout=60)
        await _looked_at(config, searcher, 3)
        assert not _pushes(telegram, OTHER)  # the dam does not answer a question about a cinema

        _add(config, models, tmp_path, "cinema")  # nothing to do with the dam
        await telegram.wait_for("sendMessage", where=lambda c: c in _pushes(telegram, OTHER), timeout=60)
        await _looked_at(config, searcher, 4)

        since = len(telegram.calls)
        telegram.send("/following", user_id=USER)
        [listing] = await telegram.wait_for("sendMessage", since=since)
    body = push.params["text"]
    assert push.params["chat_id"] == USER and push.params["parse_mode"] == "HTML"
    assert "France 24" in body and "<blockquote>" in body and "📰" in body  # quoted and cited, the new outlet named
    assert [b["text"] for b in buttons(push)] == ["Timeline 1"]
    assert len(_pushes(telegram, USER)) == 1  # the cinema pushed nothing to the dam's follower
    [cinema] = _pushes(telegram, OTHER)
    assert cinema.params["text"].startswith("🔔 New on your question")
    assert "<blockquote>" in cinema.params["text"] and "first cinema in Riyadh" in cinema.params["text"]  # quoted
    assert listing.params["text"].startswith("🔔 What you follow (1):") and "Mosul Dam" in listing.params["text"]
    assert [b["text"] for b in buttons(listing)] == ["Unfollow 1"]


async def test_what_came_while_the_bot_was_down_is_pushed_once_and_a_blocked_chat_loses_its_follows(
    telegram, tmp_path, models
):
    config = _archive(tmp_path, models)
    async with running(telegram, config, Searcher(config, models)):
        await _follow_story(telegram, USER)
        await _follow_story(telegram, OTHER)
    telegram.blocked.add(OTHER)  # OTHER blocks the bot
    _add(config, models, tmp_path, "f24-dam")  # from cron, while the bot is down
    searcher = Searcher(config, models)  # as a new process opens it
    async with running(telegram, config, searcher):
        [push] = await telegram.wait_for("sendMessage", where=lambda c: c in _pushes(telegram), timeout=60)
        await _looked_at(config, searcher, 3)
    for _ in range(2):  # restarted again, twice: nothing more to send
        async with running(telegram, config, Searcher(config, models)):
            await until(lambda: _nothing_due(config), "pushes done", 10)
            await asyncio.sleep(1)  # the pusher's first round runs as the bot starts
    telegram.blocked.discard(OTHER)  # unblocked: its follows are gone
    async with running(telegram, config, Searcher(config, models)):
        since = len(telegram.calls)
        telegram.send("/following", user_id=OTHER)
        [listing] = await telegram.wait_for("sendMessage", since=since)
    assert push.params["chat_id"] == USER and "France 24" in push.params["text"]
    assert len(_pushes(telegram)) == 1
    assert listing.params["text"].startswith("You follow nothing yet")


async def test_two_workers_on_one_database_push_once(telegram, tmp_path, models, postgres_server):
    store = {"backend": "postgres", "postgres_url": new_database(postgres_server)}
    configs = [_archive(tmp_path / "first", models, **store)]
    configs.append(load_config(write_config(tmp_path / "second", store=store)))
    workers = [Searcher(config, models) for config in configs]
    async with running(telegram, configs[0], workers[0], reload_check_seconds=0.2):
        await _follow_story(telegram, USER)
        async with pushing(telegram, configs[1], workers[1]):  # a second worker, not polling Telegram
            _add(configs[0], models, tmp_path, "f24-dam")
            await telegram.wait_for("sendMessage", where=lambda c: c in _pushes(telegram), timeout=60)
            for config, searcher in zip(configs, workers):
                await _looked_at(config, searcher, 3)
            await asyncio.sleep(1)
    assert len(_pushes(telegram, USER)) == 1


@asynccontextmanager
async def pushing(fake, config, searcher):
    """A bot worker that serves no updates (another one polls Telegram) but pushes."""
    app = build_application(bot_config(config, fake.base_url, reload_check_seconds=0.2), fake.token, searcher)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()


async def test_in_groups_only_administrators_follow_and_arabic_readers_are_answered_in_arabic(
    telegram, seed_config, seed_searcher
):
    group, admin = -100777, 4242
    telegram.admins[group] = {admin}
    in_group = {"chat_id": group, "chat_type": "supergroup"}
    replies = []
    async with running(telegram, seed_config, seed_searcher):
        for user, command in [
            (USER, "/follow drones launched from Iraq"),  # a member, not an administrator
            (admin, "/follow drones launched from Iraq"),
            (admin, "/following"),
            (admin, "/unfollow 1"),
        ]:
            since = len(telegram.calls)
            telegram.send(command, user_id=user, **in_group)
            replies += (await telegram.wait_for("sendMessage", since=since))[0:1]
        for command in ("/follow", "/follow الطائرات المسيرة", "/following", "/unfollow all"):
            since = len(telegram.calls)
            telegram.send(command, user_id=OTHER, language_code="ar")
            replies += (await telegram.wait_for("sendMessage", since=since))[0:1]
    texts = [r.params["text"] for r in replies]
    assert texts[0].startswith("In groups, only the group's administrators")
    assert texts[1].startswith("🔔 I will tell you of every new article that answers: “drones launched from Iraq”")
    assert texts[2].startswith("🔔 What you follow (1):") and [b["text"] for b in buttons(replies[2])] == ["Unfollow 1"]
    assert texts[3].startswith("Unfollowed: “drones launched from Iraq”")
    assert texts[4].startswith("اكتب بعد الأمر كلمات أو سؤالاً")
    assert texts[5].startswith("🔔 سأخبرك بكل مقالة جديدة تجيب عن: «الطائرات المسيرة»")
    assert texts[6].startswith("🔔 ما تتابعه (1):")
    assert texts[7] == "أُلغيت كل المتابعات (1)."


async def test_the_unfollow_button_under_following_unfollows_once_and_only_in_its_own_chat(
    telegram, seed_config, seed_searcher
):
    async with running(telegram, seed_config, seed_searcher):
        for command in ("/follow drones launched from Iraq", "/following"):
            since = len(telegram.calls)
            telegram.send(command, user_id=USER)
            [listed] = await telegram.wait_for("sendMessage", since=since)
        [unfollow] = buttons(listed)
        assert unfollow["text"] == "Unfollow 1" and unfollow["callback_data"].startswith("unf:")
        # another chat pressing it (a forwarded message, forged data) changes nothing
        since = len(telegram.calls)
        telegram.press(_message(OTHER), unfollow["callback_data"], user_id=OTHER)
        [refused] = await telegram.wait_for("answerCallbackQuery", since=since)
        assert refused.params.get("show_alert") and "expired" in refused.params["text"]
        since = len(telegram.calls)
        telegram.press(_message(USER), unfollow["callback_data"], user_id=USER)
        [said] = await telegram.wait_for("sendMessage", since=since)
        since = len(telegram.calls)
        telegram.press(_message(USER), unfollow["callback_data"], user_id=USER)  # pressed twice
        [again] = await telegram.wait_for("answerCallbackQuery", since=since)
        since = len(telegram.calls)
        telegram.send("/following", user_id=USER)
        [after] = await telegram.wait_for("sendMessage", since=since)
    assert said.params["text"] == "Unfollowed: “drones launched from Iraq”."
    assert again.params.get("show_alert") and "expired" in again.params["text"]  # gone: no second message
    unfollowed = [c for c in telegram.calls if c.method == "sendMessage" and c.params["text"].startswith("Unfollowed")]
    assert len(unfollowed) == 1
    assert after.params["text"].startswith("You follow nothing")
