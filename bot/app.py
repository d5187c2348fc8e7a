"""Building the python-telegram-bot Application: handlers, flood control, commands, reload."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from index.config import BotConfig, Config
from index.follows import open_follows
from index.search import Searcher

from . import handlers
from .access import Access, RateLimiter
from .keyboards import open_question_store
from .polling import schedule_polling
from .pushes import Pusher
from .service import SearchService
from .texts import text

COMMANDS = ("ask", "latest", "follow", "following", "unfollow", "help", "sources", "start")
ALLOWED_UPDATES = ["message", "callback_query", "inline_query"]


def webhook_options(bot: BotConfig, token: str) -> dict:
    """Arguments for PTB's run_webhook / start_webhook. The URL path and the secret Telegram
    must send back derive from the token without revealing it."""
    secret = hashlib.sha256(token.encode()).hexdigest()
    return {
        "listen": bot.listen,
        "port": bot.port,
        "url_path": secret[:32],
        "webhook_url": f"{bot.webhook_url.rstrip('/')}/{secret[:32]}",
        "secret_token": secret[32:64],
        "allowed_updates": ALLOWED_UPDATES,
    }


async def post_init(app: Application) -> None:
    """Publish the command menu in both languages and start watching for new index builds."""
    for lang in ("en", "ar"):
        commands = [BotCommand(name, text(f"cmd_{name}", lang)) for name in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=None if lang == "en" else lang)
    s: handlers.BotState = app.bot_data["sanad"]
    app.bot_data["watcher"] = asyncio.create_task(s.service.watch(s.config.bot.reload_check_seconds))
    pusher = Pusher(app.bot, s.config, s.service, s.follows, s.questions)
    app.bot_data["pusher"] = asyncio.create_task(pusher.run())


async def post_stop(app: Application) -> None:
    updater = app.bot_data.pop("updater", None)
    if updater:
        updater.close()
    for name in ("watcher", "pusher"):
        task = app.bot_data.pop(name, None)
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    app.bot_data["sanad"].questions.close()
    app.bot_data["sanad"].follows.close()


def build_application(config: Config, token: str, searcher: Searcher) -> Application:
    b = config.bot
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(b.base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))  # flood control; waits out 429s
        .concurrent_updates(True)  # many askers at once; searches are bounded by the service
        .post_init(post_init)
        .post_stop(post_stop)
        .build()
    )
    app.bot_data["sanad"] = handlers.BotState(
        config,
        SearchService(searcher, b.max_concurrent_searches),
        Access(b),
        RateLimiter(b.rate_limit_per_minute),
        open_question_store(config),
        open_follows(config),
    )
    app.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    app.add_handler(CommandHandler("start", handlers.start))
    app.add_handler(CommandHandler("help", handlers.help_command))
    app.add_handler(CommandHandler("sources", handlers.sources))
    app.add_handler(CommandHandler("latest", handlers.latest_command))
    app.add_handler(CommandHandler("ask", handlers.ask_command))
    app.add_handler(CommandHandler("follow", handlers.follow_command))
    app.add_handler(CommandHandler("following", handlers.following_command))
    app.add_handler(CommandHandler("unfollow", handlers.unfollow_command))
    app.add_handler(CommandHandler("reload", handlers.reload_command))
    app.add_handler(CommandHandler("stats", handlers.stats_command))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, handlers.private_text))
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND, handlers.group_text))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_error_handler(handlers.on_error)
    if config.sources.poll_minutes > 0 and config.sources.feeds:
        schedule_polling(app, config.path, config.sources.poll_minutes)
    return app
