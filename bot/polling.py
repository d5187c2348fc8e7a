"""The bot keeps the archive current by itself: every `sources.poll_minutes` a JobQueue job
polls the feeds, takes in new and changed articles, indexes them, and switches to the new build
at once. A poll that fails is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import logging

from telegram.ext import Application, ContextTypes

from index.build import BuildError
from index.ingest.pipeline import update_archive

from . import handlers

log = logging.getLogger(__name__)
FIRST_POLL_SECONDS = 5  # soon after start: a bot deployed on a stale archive catches up at once


async def poll_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    s: handlers.BotState = context.bot_data["sanad"]
    try:
        summary, result = await asyncio.to_thread(update_archive, s.config, s.service.searcher.models)
    except BuildError as exc:  # another build on this data folder (an operator's `update`): next time
        log.warning("feeds polled, index not updated: %s", exc)
        return
    except Exception:
        log.exception("polling the feeds failed; will try again")
        return
    log.info("feeds polled: %s; %s", summary.line(), result.summary() if result else "index unchanged")
    if result is not None:
        await s.service.check_for_build()


def schedule_polling(app: Application, minutes: float) -> None:
    """Poll every `minutes`; one poll at a time (a slow one makes the next wait, never overlap)."""
    app.job_queue.run_repeating(
        poll_feeds, interval=minutes * 60, first=FIRST_POLL_SECONDS, name="poll feeds", job_kwargs={"max_instances": 1}
    )
