"""Handlers: each translates between a Telegram update and the search service."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import re
from dataclasses import dataclass

from telegram import (
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.constants import ChatAction, ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from index.config import Config
from index.follows import Follow, FollowStore
from index.normalize import question_language
from index.store import IndexUnavailable

from .access import Access, RateLimiter
from .delivery import with_retries
from .formatting import (
    answer_messages,
    follow_label,
    following_message,
    inline_message,
    latest_message,
    paragraph_message,
    reports_message,
    shorten,
    sources_message,
    timeline_message,
)
from .keyboards import QuestionStore, answer_keyboard, decode, following_keyboard
from .service import SearchService
from .small_talk import small_talk
from .texts import text

log = logging.getLogger(__name__)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_AFTER_SECONDS = 0.25
INLINE_MIN_CHARS = 3  # inline queries arrive as the user types: shorter ones are not questions yet
INLINE_RESULTS = 5
# Telegram's cache of results, per user (is_personal): the same question, the same passages. With
# allow-lists, none: a user taken off the list must not keep getting results from the cache.
INLINE_CACHE_SECONDS = 300


@dataclass
class BotState:
    config: Config
    service: SearchService
    access: Access
    limiter: RateLimiter
    questions: QuestionStore
    follows: FollowStore


def state(context: ContextTypes.DEFAULT_TYPE) -> BotState:
    return context.application.bot_data["sanad"]


def user_lang(user: User | None, question: str = "") -> str:
    """The asker's language: their question's, else their Telegram language."""
    lang = question_language(question) if question else "other"
    if lang in ("ar", "en"):
        return lang
    return "ar" if user and (user.language_code or "").startswith("ar") else "en"


async def _show_or_alert(query, lang: str, known: bool, found, message) -> None:
    """A button's view: `message(found)` as a reply, or an alert that what it showed changed
    (`known`: the button's passage is still remembered) or that the button is too old."""
    if not found:
        await query.answer(text("changed_button" if known else "stale_button", lang), show_alert=True)
        return
    await query.answer()
    # A story of thousands of events takes a while to lay out: never on the event loop.
    await _send(query.message, [await asyncio.to_thread(message, found, lang)])


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler, for every update type: enforces the allow-lists."""
    s = state(context)
    user, chat, message = update.effective_user, update.effective_chat, update.message
    if s.access.allowed(user and user.id, chat and chat.id):
        return
    chatter = (
        chat
        and chat.type != ChatType.PRIVATE
        and message
        and not (message.text or "").startswith("/")
        and _question_for_bot(message, context.bot) is None
    )
    if chatter:
        raise ApplicationHandlerStop  # group talk not meant for the bot: no refusal either
    if s.access.first_refusal(user and user.id):
        refusal = text("not_allowed", user_lang(user))
        if update.callback_query:
            await update.callback_query.answer(refusal, show_alert=True)
        elif update.inline_query:
            await update.inline_query.answer([], cache_time=0)
        elif update.effective_message:
            await _send(update.effective_message, [refusal])
    elif update.callback_query:
        await update.callback_query.answer()  # stops the button's spinner, says nothing
    elif update.inline_query:
        await update.inline_query.answer([], cache_time=0)
    raise ApplicationHandlerStop


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send(update.effective_message, [text("start", user_lang(update.effective_user))])


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _send(update.effective_message, [text("help", user_lang(update.effective_user))])


async def sources(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s, lang = state(context), user_lang(update.effective_user)
    if await _rate_limited(update, s, lang):
        return
    summary = await asyncio.to_thread(s.service.sources)
    await _send(update.effective_message, [sources_message(summary, lang)])


async def latest_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/latest [topic]: the newest articles, or the newest on a topic."""
    topic = " ".join(context.args or []).strip() or None
    s, lang = state(context), user_lang(update.effective_user, topic)
    if await _rate_limited(update, s, lang):
        return
    docs = await s.service.latest(topic)
    await _send(update.effective_message, [latest_message(docs, topic, lang)])


def _after_command(message: Message) -> str:
    entity = next((e for e in message.entities if e.type == MessageEntity.BOT_COMMAND and e.offset == 0), None)
    body = message.text or ""
    return body[entity.length :].strip() if entity else body.strip()


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    question = _after_command(update.effective_message)
    if not question:
        await _send(update.effective_message, [text("ask_usage", user_lang(update.effective_user))])
        return
    await answer_question(update, context, question)


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer_question(update, context, update.effective_message.text)


def _question_for_bot(message: Message, me: User) -> str | None:
    """In a group, the question of a message meant for the bot (mentioning it, or replying to
    it), without the mention; None for the chatter around it."""
    mention = f"@{me.username}"
    if any(
        e.type == MessageEntity.MENTION and message.parse_entity(e).lower() == mention.lower() for e in message.entities
    ):
        return re.sub(re.escape(mention), " ", message.text or "", flags=re.IGNORECASE).strip()
    reply = message.reply_to_message
    if reply and reply.from_user and reply.from_user.id == me.id:
        return (message.text or "").strip()
    return None


async def group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    question = _question_for_bot(update.effective_message, context.bot)
    if question is not None:
        await answer_question(update, context, question)


async def _rate_limited(update: Update, s: BotState, lang: str) -> bool:
    user = update.effective_user
    if s.limiter.allow(user.id):
        return False
    if update.inline_query:  # no chat to warn in: no results, not cached
        await update.inline_query.answer([], cache_time=0, is_personal=True)
    elif s.limiter.should_warn(user.id):
        if update.callback_query:
            await update.callback_query.answer(text("rate_limited", lang), show_alert=True)
        else:
            await _send(update.effective_message, [text("rate_limited", lang)])
    elif update.callback_query:
        await update.callback_query.answer()
    return True


async def _send(message: Message, bodies: list[str], keyboard=None) -> None:
    """Replies (Telegram HTML), the keyboard under the last; each retried until delivered."""
    for i, body in enumerate(bodies):
        last = i == len(bodies) - 1
        await with_retries(
            lambda body=body, last=last, first=i == 0: message.reply_html(
                body,
                reply_markup=keyboard if last else None,
                link_preview_options=NO_PREVIEW,
                do_quote=first and message.chat.type != ChatType.PRIVATE,
            )
        )


async def _with_typing(update: Update, search) -> object:
    """Show "typing…" when a search is slow (queued behind others): most take milliseconds, and
    every chat action spends the same outgoing budget (30 calls/s) as the replies."""
    task = asyncio.ensure_future(search)
    done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER_SECONDS)
    if not done:
        with contextlib.suppress(TelegramError):  # a lost typing hint must not lose the answer
            await update.effective_chat.send_action(ChatAction.TYPING)
    return await task


async def answer_question(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    s = state(context)
    lang = user_lang(update.effective_user, question)
    if await _rate_limited(update, s, lang):
        return
    kind = small_talk(question)
    if kind:  # a greeting or a thanks: nothing to search for
        await _send(update.effective_message, [text("welcome" if kind == "thanks" else "start", lang)])
        return
    answer = await _with_typing(update, s.service.ask(question))
    if s.config.bot.log_questions:
        log.info("question %r answered=%s in %.0f ms", question, answer.answered, answer.took_ms)
    keyboard = None
    if answer.answered:  # the database may be slow (a lock, a reconnect): never on the event loop
        keyboard = answer_keyboard(
            answer,
            await asyncio.to_thread(s.questions.add, answer, lang),
            lang,
            s.service.with_timeline(answer.passages),
        )
    await _send(update.effective_message, answer_messages(answer, lang), keyboard)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    s, query = state(context), update.callback_query
    parsed = decode(query.data)
    if parsed and parsed[0] == "unf":
        await _unfollow_button(update, context, parsed[1])
        return
    asked = await asyncio.to_thread(s.questions.get, parsed[1]) if parsed else None
    if asked is None:
        await query.answer(text("stale_button", user_lang(update.effective_user)), show_alert=True)
        return
    action, key, value = parsed
    lang = asked.lang
    if await _rate_limited(update, s, lang):
        return
    if action == "para":
        quoted = asked.passages.get(value)
        view = s.service.paragraph(quoted) if quoted else None
        if view is None:
            await query.answer(text("changed_button" if quoted else "stale_button", lang), show_alert=True)
            return
        await query.answer()
        doc = view.document
        body = paragraph_message(doc.title, view.paragraph, doc.date, doc.url, view.text, lang)
        await _send(query.message, [body])
        return
    if action == "also":
        stored = asked.reports.get(value)
        reports = s.service.reports(stored) if stored else None
        await _show_or_alert(query, lang, stored is not None, reports, reports_message)
        return
    if action == "follow":
        await _follow_story(update, context, asked, value)
        return
    if action == "time":
        quoted = asked.passages.get(value)
        events = await asyncio.to_thread(s.service.timeline, quoted.doc_id) if quoted else None
        await _show_or_alert(query, lang, quoted is not None, events, timeline_message)
        return
    # Only the next page, claimed before searching: an old or forged offset, or a double press,
    # searches nothing.
    asked = await asyncio.to_thread(s.questions.claim_page, key, value, s.config.search.top_k)
    if asked is None:
        await query.answer(text("no_more", lang))
        return
    answer = await s.service.ask(asked.question, offset=value)
    if not answer.passages:
        await query.answer(text("no_more", lang))
        return
    await query.answer()
    asked.record(answer)
    await asyncio.to_thread(s.questions.save, key, asked)
    await _send(
        query.message,
        answer_messages(answer, lang),
        answer_keyboard(answer, key, lang, s.service.with_timeline(answer.passages)),
    )


MAX_FOLLOW_CHARS = 300  # of a standing question: what /following shows and the search reads


async def _may_follow(update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str) -> bool:
    """Anyone follows for their private chat; in a group, only its administrators, for the group."""
    chat, user = update.effective_chat, update.effective_user
    if chat.type == ChatType.PRIVATE:
        return True
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
        if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
            return True
    except TelegramError as exc:
        log.warning("could not tell whether a user administers chat %s: %s", chat.id, exc)
    if update.callback_query:
        await update.callback_query.answer(text("follow_admins_only", lang), show_alert=True)
    else:
        await _send(update.effective_message, [text("follow_admins_only", lang)])
    return False


async def _added(update: Update, s: BotState, follow: Follow, lang: str) -> None:
    """Store a follow and say what came of it."""
    outcome, follow = await asyncio.to_thread(s.follows.add, follow, s.config.bot.max_follows)
    label = follow_label(follow.label, lang)
    if outcome == "full":
        said = text("follow_full", lang, n=s.config.bot.max_follows)
    elif outcome == "exists":
        said = text("follow_exists", lang, label=label)
    else:
        said = text(f"followed_{follow.kind}", lang, label=label)
    if update.callback_query:
        await update.callback_query.answer()
    await _send(update.effective_message, [said])


async def follow_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/follow words or a question: a standing question; every new article that answers it is pushed."""
    words = " ".join(_after_command(update.effective_message).split())[:MAX_FOLLOW_CHARS]
    s, lang = state(context), user_lang(update.effective_user, words)
    if not words:
        await _send(update.effective_message, [text("follow_usage", lang)])
        return
    if await _rate_limited(update, s, lang) or not await _may_follow(update, context, lang):
        return
    await _added(update, s, Follow("", update.effective_chat.id, "question", words, words, lang), lang)


async def _follow_story(update: Update, context: ContextTypes.DEFAULT_TYPE, asked, rank: int) -> None:
    """The Follow button under a passage: the story of its article."""
    s, lang, query = state(context), asked.lang, update.callback_query
    quoted = asked.passages.get(rank)
    index = s.service.searcher.index
    row = index.doc_row.get(quoted.doc_id) if quoted else None
    if row is None:
        await query.answer(text("changed_button" if quoted else "stale_button", lang), show_alert=True)
        return
    if not await _may_follow(update, context, lang):
        return
    doc = index.documents[row]
    follow = Follow(
        "", update.effective_chat.id, "story", asked.question, doc.title, lang, doc.id, index.story_of.get(row)
    )
    await _added(update, s, follow, lang)


async def following_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/following: what this chat follows, an Unfollow button under each."""
    s, lang = state(context), user_lang(update.effective_user)
    follows = await asyncio.to_thread(s.follows.of_chat, update.effective_chat.id)
    await _send(
        update.effective_message, [following_message(follows, lang)], following_keyboard([f.id for f in follows], lang)
    )


async def unfollow_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unfollow N (its number in /following) or /unfollow all; alone, the list to choose from."""
    s, lang = state(context), user_lang(update.effective_user)
    which = _after_command(update.effective_message).strip().lower()
    if not which:
        await following_command(update, context)
        return
    if not await _may_follow(update, context, lang):
        return
    chat = update.effective_chat.id
    if which in ("all", "الكل", "كل"):
        removed = await asyncio.to_thread(s.follows.forget_chat, chat)
        await _send(update.effective_message, [text("unfollowed_all", lang, n=removed)])
        return
    follows = await asyncio.to_thread(s.follows.of_chat, chat)
    number = int(which) if which.isascii() and which.isdigit() else 0
    if not 1 <= number <= len(follows):
        await _send(update.effective_message, [text("unfollow_usage", lang)])
        return
    await asyncio.to_thread(s.follows.remove, follows[number - 1].id)
    await _send(
        update.effective_message, [text("unfollowed", lang, label=follow_label(follows[number - 1].label, lang))]
    )


async def _unfollow_button(update: Update, context: ContextTypes.DEFAULT_TYPE, follow_id: str) -> None:
    s, query = state(context), update.callback_query
    lang = user_lang(update.effective_user)
    follow = await asyncio.to_thread(s.follows.get, follow_id)
    if follow is None or follow.chat != update.effective_chat.id:  # gone already, or another chat's
        await query.answer(text("stale_button", lang), show_alert=True)
        return
    if not await _may_follow(update, context, lang):
        return
    if not await asyncio.to_thread(s.follows.remove, follow.id):  # a second tap got there first
        await query.answer(text("stale_button", lang), show_alert=True)
        return
    await query.answer()
    await _send(query.message, [text("unfollowed", lang, label=follow_label(follow.label, lang))])


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`@bot question` in any chat: the passages as results (title, highlighted sentence);
    choosing one sends the quoted, cited passage as the bot would reply."""
    s, query = state(context), update.inline_query
    question = query.query.strip()
    lang = user_lang(update.effective_user, question)
    if len(question) < INLINE_MIN_CHARS:
        await query.answer([], cache_time=0)
        return
    if await _rate_limited(update, s, lang):
        return
    answer = await s.service.ask(question, k=INLINE_RESULTS)
    results = [
        InlineQueryResultArticle(
            id=inline_result_id(p.doc_id, p.start),
            title=shorten(p.title, 100),
            description=shorten(p.highlight, 200),
            input_message_content=InputTextMessageContent(
                inline_message(answer.question, p, lang), parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
            ),
        )
        for p in (answer.passages if answer.answered else [])
    ]
    restricted = s.config.bot.allowed_users or s.config.bot.allowed_chats
    await query.answer(results, cache_time=0 if restricted else INLINE_CACHE_SECONDS, is_personal=True)


def inline_result_id(doc_id: str, start: int) -> str:
    """A result's id: unique per passage, and ASCII well under Telegram's 64 bytes whatever
    the article's id (Arabic letters are two bytes each)."""
    return hashlib.blake2b(f"{doc_id}:{start}".encode(), digest_size=16).hexdigest()


async def _admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    if state(context).access.is_admin(update.effective_user and update.effective_user.id):
        return True
    await _send(update.effective_message, [text("admins_only", user_lang(update.effective_user))])
    return False


async def reload_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await _admin(update, context):
        return
    s, lang = state(context), user_lang(update.effective_user)
    try:
        changed = await s.service.reload()
    except IndexUnavailable as exc:
        log.error("reload refused: %s", exc)
        await _send(update.effective_message, [text("reload_failed", lang, error=html.escape(str(exc)))])
        return
    index = s.service.searcher.index
    key = "reloaded" if changed else "reload_unchanged"
    await _send(
        update.effective_message,
        [text(key, lang, build=index.build_id, documents=index.n_documents, chunks=index.n_chunks)],
    )


async def stats_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if not await _admin(update, context):
        return
    figures = {k: html.escape(str(v)) for k, v in state(context).service.stats().items()}
    await _send(update.effective_message, [text("stats", user_lang(update.effective_user), **figures)])


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs the failure with its context (never the question unless config allows) and tells
    the user, in their language, that something went wrong."""
    where = {}
    if isinstance(update, Update):
        where = {
            "update_id": update.update_id,
            "chat_id": update.effective_chat and update.effective_chat.id,
            "user_id": update.effective_user and update.effective_user.id,
        }
        message = update.effective_message
        if message and message.text and state(context).config.bot.log_questions:
            where["text"] = message.text
    log.error("error while handling update %s", where, exc_info=context.error)
    if not isinstance(update, Update):
        return
    lang = user_lang(update.effective_user, (update.effective_message and update.effective_message.text) or "")
    try:
        if update.callback_query:
            await update.callback_query.answer(text("error", lang), show_alert=True)
        elif update.effective_message:
            await update.effective_message.reply_html(text("error", lang))  # once: the network may be the fault
    except Exception:  # the network may be what failed; the log already has the cause
        log.warning("could not tell the user about the error")
