"""Time in questions: "what happened yesterday in Basra?", «ماذا حدث في مارس 2018؟», "the latest
on the dam talks". dateparser finds the expression (Arabic and English, relative ones against
today); it becomes a period of days the passages' articles must be dated in, or a wish for the
newest articles. The time words are taken out of what the models read: they would match
articles that mention "yesterday", not ones written then."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

LANGUAGES = ["ar", "en"]
# Recency, and how a story developed ("what happened with …", «ما مستجدات …»): newest first.
_LATEST = re.compile(
    r"\b(what(?:'s| is| are) the (?:latest|newest|most recent)(?: news| developments| updates?)?"
    r"(?: (?:on|with|about|in|regarding|for))?"
    r"|latest|most recent|recent(ly)?|newest|developments (in|on|of)|updates? on|what happened (with|to))\b"
    r"|(?<!\w)((?:(?:ما|ماذا)\s+(?:هي\s+|هو\s+)?)?(?:(?:آخر|أحدث)(?:\s+(?:ال)?(?:تطورات|مستجدات|أخبار))?"
    r"|(?:ال)?(?:تطورات|مستجدات))(?:\s+(?:عن|حول|بشأن|في))?"
    r"|مؤخرا|مؤخراً|ماذا حدث (مع|بشأن)|ما الذي حدث (مع|بشأن))(?!\w)",
    re.I,
)
_SINCE = re.compile(r"(\bsince|منذ)(\s+(the|يوم|عام|سنة))?\s*$", re.I)
FIRST_YEAR = 1900  # a bare number before this is not a year ("under $1000")
# A length of time alone ("a week before", «بعد يومين من») places the story's events, not the
# article: dateparser reads it as that long ago. "last week", "two days ago", «الأسبوع الماضي»
# carry a word that ties them to today (_ANCHOR), and stay.
_DURATION = re.compile(
    r"(a|an|one|two|three|few|several|\d+|days?|weeks?|months?|years?|"
    r"يوم|يومين|يومان|أيام|اسبوع|أسبوع|أسبوعين|أسابيع|شهر|شهرين|أشهر|شهور|سنة|سنتين|سنوات|عام|عامين|أعوام|بضعة)",
    re.I,
)
# A preposition left before a removed date ("talks in", «في») would only add noise.
_BEFORE = re.compile(r"(\b(in|on|at|during|from|of|for)|(?<!\w)(في|خلال|عام|سنة|شهر|يوم))\s*$", re.I)


@dataclass(frozen=True)
class TimeScope:
    text: str  # the question without its time words
    period: tuple[dt.date, dt.date] | None = None  # first and last day, inclusive
    latest: bool = False  # the newest relevant articles first


@lru_cache(maxsize=8)
def _parser(today: dt.date):
    from dateparser.date import DateDataParser

    settings = {"RELATIVE_BASE": dt.datetime.combine(today, dt.time(12)), "PREFER_DATES_FROM": "past"}
    return DateDataParser(languages=LANGUAGES, settings=settings), settings


_ANCHOR = re.compile(r"ago|last|past|this|الماضي|الماضية|المنصرم|مضت|مضى", re.I)


def _parse(phrase: str, today: dt.date):
    data = _parser(today)[0].get_date_data(phrase)
    return (data.date_obj.date(), data.period) if data and data.date_obj else None


def _tightest(phrase: str, today: dt.date):
    """The phrase without leading and trailing words that do not change its date ("in March
    2018" -> "March 2018"; "from last month about" -> "last month")."""
    words, found = phrase.split(), _parse(phrase, today)
    if found is None:
        return phrase, None
    for cut, edge in (((1, None), 0), ((None, -1), -1)):
        while (
            len(words) > 1
            and not _ANCHOR.fullmatch(words[edge])
            and _parse(" ".join(words[cut[0] : cut[1]]), today) == found
        ):
            words = words[cut[0] : cut[1]]
    return " ".join(words), found


def _period(day: dt.date, granularity: str, today: dt.date) -> tuple[dt.date, dt.date]:
    if granularity == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    if granularity == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if granularity == "week":  # "last week": the seven days from that day
        return day, min(day + dt.timedelta(days=6), today)
    return day, day


def _plausible(words: str, day: dt.date, today: dt.date) -> bool:
    """Not a time expression: a date after today ("in 17 years"), a length of time alone, or
    bare digits other than a year ("watchOS 4.3", "$1000")."""
    if day > today:
        return False
    if all(_DURATION.fullmatch(word) for word in words.split()) and not re.fullmatch(r"\d{4}", words):
        return False
    if re.search(r"[^\W\d_]", words):
        return True
    return bool(re.fullmatch(r"\d{4}", words)) and FIRST_YEAR <= int(words) <= today.year


def time_scope(question: str, today: dt.date | None = None) -> TimeScope:
    """The question's period and recency wish, and its text without them."""
    from dateparser.search import search_dates

    today = today or dt.date.today()
    latest = bool(_LATEST.search(question))
    text = _LATEST.sub(" ", question)
    found = search_dates(text, languages=LANGUAGES, settings=_parser(today)[1]) or []
    period = None
    for phrase, _ in found:
        words, parsed = _tightest(phrase, today)
        if parsed is None:
            continue
        day, granularity = parsed
        if not _plausible(words, day, today):
            continue
        first, last = _period(day, granularity or "day", today)
        at = text.find(words)
        if at < 0:
            continue
        since = _SINCE.search(text[:at])
        if since:
            last = today
        before = since or _BEFORE.search(text[:at])
        start = before.start() if before else at
        text = text[:start] + " " + text[at + len(words) :]
        period = (first, last) if period is None else (min(period[0], first), max(period[1], last))
    text = " ".join(text.split())
    return TimeScope(text if re.search(r"\w", text) else question, period, latest and period is None)
