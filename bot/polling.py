"""The bot keeps the archive current by itself: every `sources.poll_minutes` a JobQueue job polls
the feeds, takes in new and changed articles, indexes them, and switches to the new build at once.

The work runs in one long-lived worker process at the lowest CPU priority (nice 19), its models
loaded once: in the bot's own process the update's Python work would hold the interpreter, and
a fresh process per poll would load the models again each time; either way the searches users
wait for slowed to twice their time on a 2-core server (measured: bench/update.py). The worker
never sees the bot token. A poll that fails is logged and the next one tries again."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from telegram.ext import Application, ContextTypes

from index.config import load_config
from index.embed import load_models
from index.ingest.pipeline import update_archive

from . import handlers
from .logs import TOKEN_ENV

log = logging.getLogger(__name__)
FIRST_POLL_SECONDS = 5  # soon after start: a bot deployed on a stale archive catches up at once

_models = None  # in the worker: loaded on its first job, kept for the next


def _start_worker() -> None:
    os.environ.pop(TOKEN_ENV, None)
    os.nice(19)
    logging.getLogger("index").setLevel(logging.ERROR)  # failures come back in the summary


def _work(config_path: str) -> dict:
    """In the worker: poll the feeds, then index what came."""
    global _models
    config = load_config(config_path)
    # Both cores, niced: one thread left the searches' two-thread model runs waiting on the
    # worker at every step (3x slower searches, against 1.4x: bench/update.py).
    if _models is None:
        _models = load_models(config)
    summary, result = update_archive(config, _models, warn=lambda _: None)
    index = None
    if result is not None:
        index = {
            "summary": result.summary(),
            "build": result.build,
            "seconds": result.seconds,
            "model_seconds": result.model_seconds,
        }
    return {"summary": summary.line(), "index": index}


class BackgroundUpdater:
    """One worker process, started on first use, that polls the feeds and indexes what came."""

    def __init__(self, config_path):
        self.config_path = str(config_path)
        self._executor: ProcessPoolExecutor | None = None
        self._busy = False

    async def run(self) -> dict:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")  # forking a threaded process is unsafe
            self._executor = ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker)
        loop = asyncio.get_running_loop()
        self._busy = True
        try:
            return await loop.run_in_executor(self._executor, _work, self.config_path)
        except BrokenProcessPool:  # the worker died (killed, out of memory): a new one next time
            self._executor = None
            raise
        finally:
            self._busy = False

    def close(self) -> None:
        """Stop the worker now; an update it was running is safe to lose (builds switch atomically,
        stored articles are committed one by one) and the next start resumes it."""
        if self._executor is None:
            return
        # The pool's processes: Python before 3.14 has no public way to stop a busy worker.
        for process in list(getattr(self._executor, "_processes", {}).values()) if self._busy else []:
            process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = None


async def poll_feeds(context: ContextTypes.DEFAULT_TYPE) -> None:
    s: handlers.BotState = context.bot_data["sanad"]
    try:
        report = await context.bot_data["updater"].run()
    except Exception as exc:  # the worker's failure, pickled back: logged, tried again next poll
        log.warning("polling the feeds failed: %s", exc)
        return
    index = report["index"]
    log.info("feeds polled: %s; %s", report["summary"], index["summary"] if index else "index unchanged")
    if index:
        await s.service.check_for_build()


def schedule_polling(app: Application, config_path, minutes: float) -> None:
    """Poll every `minutes`; one poll at a time (a slow one makes the next wait, never overlap)."""
    app.bot_data["updater"] = BackgroundUpdater(config_path)
    app.job_queue.run_repeating(
        poll_feeds, interval=minutes * 60, first=FIRST_POLL_SECONDS, name="poll feeds", job_kwargs={"max_instances": 1}
    )
