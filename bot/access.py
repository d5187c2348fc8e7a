"""Who may use the bot, who is an admin, and how often each user may ask."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from index.config import BotConfig


class Access:
    def __init__(self, config: BotConfig):
        self.config = config
        self._refused: set[int] = set()

    def allowed(self, user_id: int | None, chat_id: int | None) -> bool:
        """Open when both allow-lists are empty; otherwise a listed user, or anyone in a listed chat."""
        c = self.config
        if not c.allowed_users and not c.allowed_chats:
            return True
        return user_id in c.allowed_users or chat_id in c.allowed_chats

    def first_refusal(self, user_id: int | None) -> bool:
        """True the first time a user is refused: they get one polite answer, then silence."""
        key = user_id or 0
        if key in self._refused:
            return False
        self._refused.add(key)
        return True

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.config.admins


class RateLimiter:
    """At most `per_minute` questions per user in any sliding minute."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self._asked: dict[int, deque[float]] = defaultdict(deque)
        self._warned: dict[int, float] = {}

    def allow(self, user_id: int) -> bool:
        now = self.clock()
        asked = self._asked[user_id]
        while asked and now - asked[0] >= 60:
            asked.popleft()
        if len(asked) >= self.per_minute:
            return False
        asked.append(now)
        return True

    def should_warn(self, user_id: int) -> bool:
        """One "slow down" per user per minute, not one per dropped question."""
        now = self.clock()
        if now - self._warned.get(user_id, -60.0) >= 60:
            self._warned[user_id] = now
            return True
        return False
