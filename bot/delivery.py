"""Sending that survives a flaky network: a reply is retried with backoff until the Bot API
takes it, so faults delay replies instead of losing them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 8
FIRST_DELAY, MAX_DELAY = 0.5, 15.0


async def with_retries(send: Callable[[], Awaitable[T]]) -> T:
    delay = FIRST_DELAY
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await send()
        except (BadRequest, Forbidden):
            raise  # the request itself is wrong, or the user blocked the bot: retrying cannot help
        except RetryAfter as exc:
            wait = exc.retry_after
            wait = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            if attempt == ATTEMPTS:
                raise
            log.warning("Bot API asks to wait %.0f s before sending", wait)
            await asyncio.sleep(wait)
        except (TimedOut, NetworkError) as exc:
            if attempt == ATTEMPTS:
                raise
            log.warning("sending failed (%s); retry %d in %.1f s", exc.__class__.__name__, attempt, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
    raise AssertionError("unreachable")
