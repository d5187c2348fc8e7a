"""Pushes to followers: when the bot serves a build with articles it has not looked at for
follows yet (its own feed polling, or `sanad-index update`/`add` run from cron), each follower
gets one message with what is new for it, the passages quoted and cited like any answer.

The pushes an article owes are written to the store (index/follows.py) before anything is sent
and marked sent message by message, so a restart sends what was due and nothing twice; with
several workers on one database, the one that claims a chat's pushes sends them. At most one
message a second goes to one chat (Telegram's limit); a chat that blocked the bot loses its
follows."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import OrderedDict

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError

from index.articles import open_articles
from index.config import Config
from index.corroboration import Report
from index.follows import FollowStore, due_pushes, passage_of
from index.search import Answer

from .delivery import with_retries
from .formatting import push_messages
from .keyboards import QuestionStore, timeline_keyboard
from .service import SearchService

log = logging.getLogger(__name__)
RECHECK_SECONDS = 60.0  # besides every new build: pushes another worker left, or a send that failed
CHAT_GAP_SECONDS = 1.0  # Telegram: at most one message a second to one chat
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class Pusher:
    def __init__(
        self, bot: Bot, config: Config, service: SearchService, follows: FollowStore, questions: QuestionStore
    ):
        self.bot, self.config, self.service = bot, config, service
        self.follows, self.questions = follows, questions
        self._wake = asyncio.Event()
        self._last_sent: dict[int, float] = {}
        self._taken_in: str | None = None  # the build whose articles were all looked at
        service.on_switch.append(self._wake.set)

    async def run(self) -> None:
        """Look for new articles and deliver what is due, at start, at every new build, and every
        RECHECK_SECONDS, until cancelled; a failure is logged and the next round tries again."""
        while True:
            self._wake.clear()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pushing to followers failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RECHECK_SECONDS)

    async def step(self) -> None:
        await self.service.searching(self.take_in)
        await asyncio.to_thread(self.follows.expire, self.config.bot.follow_catch_up_days)
        for chat in await asyncio.to_thread(self.follows.due_chats):
            await self.deliver(chat)

    def take_in(self) -> None:
        """The pushes owed by the articles of the build in use not looked at yet, written with
        the mark that they were (in a worker thread)."""
        searcher = self.service.searcher
        index = searcher.index
        if index.build_id == self._taken_in:  # a recheck between builds: nothing new to look at
            return
        unseen = self.follows.unseen(list(index.doc_row))
        if unseen is None:  # the first look ever: the archive as it is owes nothing
            self.follows.record(list(index.doc_row), [])
            self._taken_in = index.build_id
            return
        if not unseen:
            self._taken_in = index.build_id
            return
        rows = [index.doc_row[doc_id] for doc_id in unseen]
        fresh = self._arrived_lately(unseen)
        follows = self.follows.all()
        dues = due_pushes(searcher, index, follows, [r for r, doc_id in zip(rows, unseen) if doc_id in fresh])
        self.follows.record(unseen, dues)
        self._taken_in = index.build_id
        if dues:
            log.info("%d new articles: %d pushes due", len(unseen), len(dues))

    def _arrived_lately(self, doc_ids: list[str]) -> set[str]:
        """Those taken into the archive within bot.follow_catch_up_days (an index built straight
        from files has no store: all of them)."""
        store = open_articles(self.config, create=False)
        if store is None:
            return set(doc_ids)
        cutoff = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - self.config.bot.follow_catch_up_days * 24 * 3600)
        )
        with store:
            found = {doc_id: store.get(doc_id) for doc_id in doc_ids}
        return {doc_id for doc_id, article in found.items() if article is None or article.changed >= cutoff}

    async def deliver(self, chat: int) -> None:
        """A chat's due pushes, claimed, in as few messages as fit, each marked sent once sent."""
        token, claimed = await asyncio.to_thread(self.follows.claim, chat)
        if not claimed:
            return
        groups: OrderedDict[tuple, list] = OrderedDict()  # (follow, event or article) -> its pushes
        for follow, article, event, passage in claimed:
            groups.setdefault((follow, event or article), []).append((article, passage_of(passage)))
        lang = claimed[0][0].lang
        # follow id -> (follow, its passages, the (follow, article) pushes each passage shows):
        # passages are numbered follow by follow, so their pushes are kept in the same order
        by_follow: OrderedDict[str, tuple] = OrderedDict()
        for (follow, _), found in groups.items():
            shown = _with_other_outlets(found[0][1], [p for _, p in found[1:]])
            _, shown_of, pushes_of = by_follow.setdefault(follow.id, (follow, [], []))
            shown_of.append(shown)
            pushes_of.append([(follow.id, article) for article, _ in found])
        messages = push_messages([(follow, shown) for follow, shown, _ in by_follow.values()], lang)
        passages = [p for _, shown, _ in by_follow.values() for p in shown]
        keys = [pushes for _, _, pushes_of in by_follow.values() for pushes in pushes_of]  # by passage number
        answer = Answer("", lang, True, [_numbered(p, n) for n, p in enumerate(passages, 1)])
        key = await asyncio.to_thread(self.questions.add, answer, lang)  # the Timeline buttons, durable
        with_timeline = self.service.with_timeline(answer.passages)
        try:
            for body, numbers in messages:
                timelines = [n for n in numbers if n in with_timeline]
                await self._pace(chat)
                await with_retries(
                    lambda body=body, timelines=timelines: self.bot.send_message(
                        chat,
                        body,
                        parse_mode=ParseMode.HTML,
                        link_preview_options=NO_PREVIEW,
                        reply_markup=timeline_keyboard(key, timelines, lang),
                    )
                )
                sent = [k for n in numbers for k in keys[n - 1]]
                await asyncio.to_thread(self.follows.sent, token, sent)
        except Forbidden:  # blocked by the user, or removed from the group
            removed = await asyncio.to_thread(self.follows.forget_chat, chat)
            log.info("chat %s blocked the bot: its %d follows removed", chat, removed)
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                await asyncio.to_thread(self.follows.forget_chat, chat)
            else:
                log.warning("a push to chat %s was refused: %s", chat, exc)
                await asyncio.to_thread(self.follows.release, token)
        except TelegramError as exc:
            log.warning("a push to chat %s failed (%s); will try again", chat, exc)
            await asyncio.to_thread(self.follows.release, token)

    async def _pace(self, chat: int) -> None:
        now = time.monotonic()
        wait = self._last_sent.get(chat, -CHAT_GAP_SECONDS) + CHAT_GAP_SECONDS - now
        if wait > 0:
            await asyncio.sleep(wait)
        if len(self._last_sent) > 10_000:  # only the last second matters
            self._last_sent = {c: t for c, t in self._last_sent.items() if now - t < CHAT_GAP_SECONDS}
        self._last_sent[chat] = time.monotonic()


def _numbered(passage, n: int):
    return dataclasses.replace(passage, rank=n)


def _with_other_outlets(passage, others: list):
    """One passage for an event's new articles: the first one's, its "also reported by" naming
    the other new articles' outlets too."""
    named = {r.outlet for r in passage.also_reported_by} | {passage.outlet}
    extra = []
    for p in others:
        if p.outlet and p.outlet not in named:
            named.add(p.outlet)
            extra.append(Report(p.doc_id, p.outlet, p.title, p.url, p.date, p.highlight, p.link, p.start, p.end))
    return dataclasses.replace(passage, also_reported_by=(*passage.also_reported_by, *extra)) if extra else passage
