"""Allow-lists and rate limits remember each user only as long as it matters: a flood of new
users (or forged ids) cannot grow the bot's memory without bound."""

from bot.access import REFUSAL_MEMORY_SECONDS, Access, RateLimiter
from index.config import BotConfig


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_forgets_users_who_stopped_asking():
    clock = Clock()
    limiter = RateLimiter(per_minute=2, clock=clock)
    for user in range(20_000):
        assert limiter.allow(user)
    assert limiter.allow(1) and not limiter.allow(1)  # the limit itself still holds
    clock.now += 61
    for user in range(20_000, 21_000):
        limiter.allow(user)
    assert len(limiter) <= 1_000


def test_a_refused_user_hears_it_once_a_day_and_is_then_forgotten():
    clock = Clock()
    access = Access(BotConfig(allowed_users=(1,)), clock=clock)
    assert access.first_refusal(7) and not access.first_refusal(7)
    for user in range(10_000, 30_000):
        access.first_refusal(user)
    clock.now += REFUSAL_MEMORY_SECONDS + 1
    assert access.first_refusal(7)  # a day later: one polite answer again
    for user in range(30_000, 31_000):
        access.first_refusal(user)
    assert len(access) <= 1_001
