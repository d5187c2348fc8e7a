"""Who may use the bot, who is an admin, and how often each user may ask.

What is kept per user is forgotten once it no longer matters, so that a flood of new users
(or forged ids) cannot grow the bot's memory without bound."""

from __future__ import annotations

import time
from collections import deque

from index.config import BotConfig

REFUSAL_MEMORY_SECONDS = 24 * 3600  # a refused user hears the refusal again after a day
PRUNE_EVERY = 1000  # calls between two sweeps of what is no longer needed


class Access:
    def __init__(self, config: BotConfig, clock=time.monotonic):
        self.config, self.clock = config, clock
        self._refused: dict[int, float] = {}  # user -> when refused
        self._calls = 0

    def allowed(self, user_id: int | None, chat_id: int | None) -> bool:
        """Open when both allow-lists are empty; otherwise a listed user, or anyone in a listed chat."""
        c = self.config
        if not c.allowed_users and not c.allowed_chats:
            return True
        return user_id in c.allowed_users or chat_id in c.allowed_chats

    def first_refusal(self, user_id: int | None) -> bool:
        """True the first time a user is refused (in a day): one polite answer, then silence."""
        key, now = user_id or 0, self.clock()
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:
            self._refused = {u: t for u, t in self._refused.items() if now - t < REFUSAL_MEMORY_SECONDS}
        if now - self._refused.get(key, -REFUSAL_MEMORY_SECONDS) < REFUSAL_MEMORY_SECONDS:
            return False
        self._refused[key] = now
        return True

    def __len__(self) -> int:
        """Users remembered as refused."""
        return len(self._refused)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.admins


class RateLimiter:
    """At most `per_minute` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._asked: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._calls = 0

    def allow(self, user_id: int) -> bool:
        now = self.clock()
        self._calls += 1
        if self._calls % PRUNE_EVERY == 0:  # users quiet for a minute need no memory
            self._asked = {u: a for u, a in self._asked.items() if a and now - a[-1] < 60}
            self._warned = {u: t for u, t in self._warned.items() if now - t < 60}
        asked = self._asked.setdefault(user_id, deque())
        while asked and now - asked[0] >= 60:
            asked.popleft()
        if len(asked) >= self.per_minute:
            return False
        asked.append(now)
        return True

    def __len__(self) -> int:
        """Users remembered (who asked within about the last minute)."""
        return len(self._asked)

    def should_warn(self, user_id: int) -> bool:
        """One "slow down" per user per minute, not one per dropped question."""
        now = self.clock()
        if now - self._warned.get(user_id, -60.0) >= 60:
            self._warned[user_id] = now
            return True
        return False
