"""`sanad-bot` / `python -m bot`: serve Telegram."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from telegram.error import InvalidToken, TelegramError

from index.config import ConfigError, load_config
from index.default_model import ModelSourceError
from index.embed import EmbedderError
from index.matcher import MatcherError
from index.search import Searcher
from index.store import IndexUnavailable

from .app import ALLOWED_UPDATES, build_application, webhook_options
from .logs import TOKEN_ENV, setup_logging

NO_TOKEN = f"""sanad-bot: {TOKEN_ENV} is not set.
Create a bot with @BotFather in Telegram (/newbot), copy the token it gives you, then:
    export {TOKEN_ENV}='123456789:AA...'
    sanad-bot"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sanad-bot",
        description="Serve Sanad on Telegram: answers questions with cited passages. "
        f"The bot token comes from the {TOKEN_ENV} environment variable.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="config file (default: $SANAD_CONFIG or ./config.yaml)"
    )
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    setup_logging(token)
    log = logging.getLogger("sanad-bot")
    try:
        config = load_config(args.config)
        if config.bot.mode == "webhook" and not config.bot.webhook_url:
            raise ConfigError("bot.webhook_url: must be set (a public https URL) for bot.mode: webhook")
        searcher = Searcher(config)
    except (ConfigError, IndexUnavailable, EmbedderError, ModelSourceError, MatcherError) as exc:
        print(f"sanad-bot: error: {exc}", file=sys.stderr)
        return 1
    app = build_application(config, token, searcher)
    index = searcher.index
    log.info("serving %d documents, %d chunks (build %s)", index.n_documents, index.n_chunks, index.build_id)
    try:
        if config.bot.mode == "webhook":
            app.run_webhook(**webhook_options(config.bot, token))
        else:
            app.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:  # its message holds the token: never print it
        print(
            f"sanad-bot: error: the Bot API at {config.bot.base_url} rejected the token. Check "
            f"{TOKEN_ENV} (a new one from @BotFather) and bot.base_url in the config.",
            file=sys.stderr,
        )
        return 1
    except (TelegramError, OSError) as exc:
        print(f"sanad-bot: error: cannot reach the Bot API at {config.bot.base_url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
