"""Telegram HTML for every reply: escaped, direction-safe, never over the length limit."""

from __future__ import annotations

import bisect
import datetime as dt
import html
import re
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from urllib.parse import urlsplit

from index.documents import Document
from index.normalize import detect_language
from index.search import Answer, Passage
from index.split import sentence_spans
from index.stories import MAX_OUTLET_CHARS

from .service import ArchiveSummary
from .texts import text

MAX_UTF16 = 4096  # Telegram's limit for one message
MAX_TITLE_CHARS = 120  # a citation names its article; a scraped <title> can be any length
MAX_URL_CHARS = 1000  # a longer link is left out rather than fill the message
MAX_EVENT_OUTLETS = 5  # named on a timeline's line; an event reported everywhere would fill the message
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate: a run laid out on its own direction
ELLIPSIS = "…"


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def esc(s: str) -> str:
    return html.escape(s, quote=False)


def isolate(snippet: str, ui_lang: str) -> str:
    """Wrap text of the other direction (Arabic in an English line, or the reverse) in isolates."""
    rtl = detect_language(snippet) == "ar"
    return f"{FSI}{snippet}{PDI}" if rtl != (ui_lang == "ar") else snippet


def _bold_highlight(body: str, highlight: str) -> str:
    at = body.find(highlight) if highlight else -1
    if at < 0:
        return esc(body)
    end = at + len(highlight)
    return f"{esc(body[:at])}<b>{esc(highlight)}</b>{esc(body[end:])}"


def _safe_url(url: str | None) -> str | None:
    return url if url and url.startswith(("http://", "https://")) and len(url) <= MAX_URL_CHARS else None


def shorten(s: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary where there is one, with an ellipsis."""
    if len(s) <= limit:
        return s
    cut = s[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + ELLIPSIS


LOCALES = {"ar": "ar", "en": "en_GB"}  # en_GB: "13 Feb 2018", day first as in Arabic


def human_date(iso: str, ui_lang: str) -> str:
    """«13 فبراير 2018» / "13 Feb 2018" from an ISO 8601 date; other text as it is."""
    from babel.dates import format_date

    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return shorten(iso, 40)
    return format_date(day, "d MMMM y" if ui_lang == "ar" else "d MMM y", locale=LOCALES[ui_lang])


def human_period(first: str, last: str, ui_lang: str) -> str:
    """«1–31 مارس 2018» / "1–31 Mar 2018"."""
    from babel.dates import format_interval

    days = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return format_interval(*days, "yMMMd", locale=LOCALES[ui_lang])


def citation(
    title: str, paragraph: int | None, date: str | None, url: str | None, ui_lang: str, outlet: str | None = None
) -> str:
    parts = [f"📰 {esc(isolate(shorten(title, MAX_TITLE_CHARS), ui_lang))}"]
    if outlet:
        parts.append(esc(isolate(shorten(outlet, MAX_OUTLET_CHARS), ui_lang)))
    if paragraph:
        parts.append(f"¶{paragraph}")
    if date:
        parts.append(esc(isolate(human_date(date, ui_lang), ui_lang)))
    link = _safe_url(url)
    if link:
        parts.append(f'<a href="{html.escape(link, quote=True)}">{esc(text("link", ui_lang))}</a>')
    return " · ".join(parts)


def _fit(body: str, render: Callable[[str], str], budget: int) -> str:
    """render(body), or render of the longest prefix ending on a sentence (else word) boundary
    plus an ellipsis, that stays within `budget` UTF-16 units. Never over the budget: if even
    the frame around the body is too long, the whole is cut as plain text."""
    frame = render(ELLIPSIS)
    if utf16_len(frame) > budget:
        return esc(_utf16_prefix(html.unescape(re.sub(r"<[^>]*>", "", frame)), budget - 1)) + ELLIPSIS
    full = render(body)
    if utf16_len(full) <= budget:
        return full
    cuts = [end for _, end in sentence_spans(body)][:-1]
    if not cuts or utf16_len(render(body[: cuts[0]] + ELLIPSIS)) > budget:
        cuts = [i for i, ch in enumerate(body) if ch.isspace()] or [len(body)]
    low, high, best = 0, len(cuts) - 1, None
    while low <= high:  # the longest prefix that fits
        mid = (low + high) // 2
        candidate = render(body[: cuts[mid]].rstrip() + ELLIPSIS)
        if utf16_len(candidate) <= budget:
            best, low = candidate, mid + 1
        else:
            high = mid - 1
    if best is not None:
        return best
    # A single word longer than the budget: cut it by characters.
    low, high = 0, len(body)
    while low < high:
        mid = (low + high + 1) // 2
        if utf16_len(render(body[:mid] + ELLIPSIS)) <= budget:
            low = mid
        else:
            high = mid - 1
    return render(body[:low] + ELLIPSIS)


def _utf16_prefix(s: str, units: int) -> str:
    """The longest prefix of `s` within `units` UTF-16 units, escaped length included."""
    low, high = 0, len(s)
    while low < high:
        mid = (low + high + 1) // 2
        if utf16_len(esc(s[:mid])) <= units:
            low = mid
        else:
            high = mid - 1
    return s[:low]


def passage_block(p: Passage, number: int, ui_lang: str, budget: int = MAX_UTF16) -> str:
    cite = citation(p.title, p.paragraph, p.date, p.link if _safe_url(p.link) else p.url, ui_lang, p.outlet)
    if p.also_reported_by:
        outlets = " · ".join(esc(isolate(shorten(r.outlet, MAX_OUTLET_CHARS), ui_lang)) for r in p.also_reported_by)
        cite += "\n" + text("also_reported", ui_lang, outlets=outlets)

    def render(body: str) -> str:
        return f"<b>{number}.</b>\n<blockquote>{_bold_highlight(body, p.highlight)}</blockquote>\n{cite}"

    return _fit(p.text, render, budget)


def pack(blocks: Sequence[str], header: str = "", limit: int = MAX_UTF16) -> list[str]:
    """Blocks joined into as few messages as fit, split only between blocks."""
    messages: list[str] = []
    current = header
    for block in blocks:
        joined = f"{current}\n\n{block}" if current else block
        if utf16_len(joined) <= limit:
            current = joined
        else:
            if current:
                messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def answer_messages(answer: Answer, ui_lang: str) -> list[str]:
    """The reply to a question: numbered, quoted, cited passages (or the no-answer text)."""
    if not answer.answered or not answer.passages:
        return [text("no_answer", ui_lang)]
    header = ""
    if answer.passages[0].rank == 1:
        header = text("answer_header", ui_lang)
        if answer.period:
            header = text("answer_header_period", ui_lang, period=esc(human_period(*answer.period, ui_lang)))
        elif answer.no_single_story:
            header = text("answer_header_no_story", ui_lang)
    budget = MAX_UTF16 - utf16_len(header) - 2
    blocks = [passage_block(p, p.rank, ui_lang, budget) for p in answer.passages]
    return pack(blocks, header)


def inline_message(question: str, p: Passage, ui_lang: str) -> str:
    """What choosing an inline result sends: the question, then the passage as a reply quotes it."""
    header = f"❓ {esc(isolate(shorten(question, 300), ui_lang))}"
    return f"{header}\n\n{passage_block(p, p.rank, ui_lang, MAX_UTF16 - utf16_len(header) - 2)}"


def paragraph_message(title: str, paragraph: int, date: str | None, url: str | None, body: str, ui_lang: str) -> str:
    cite = citation(title, paragraph, date, url, ui_lang)
    return _fit(body, lambda b: f"<blockquote>{esc(b)}</blockquote>\n{cite}", MAX_UTF16)


def reports_message(reports: Sequence, ui_lang: str) -> str:
    """What the "Also reported" button shows: each other outlet's sentence, quoted and cited, as
    many as fit in one message, then how many more there are."""
    header = text("also_header", ui_lang)
    limit = MAX_UTF16 - utf16_len(header) - 2
    budget = limit - utf16_len(text("more_reports", ui_lang, n=len(reports))) - 2  # one report always fits
    blocks = []
    for r in reports:
        link = r.link if _safe_url(r.link) else r.url
        cite = citation(r.title, None, r.date, link, ui_lang, r.outlet)
        blocks.append(_fit(r.text, lambda body, cite=cite: f"<blockquote>{esc(body)}</blockquote>\n{cite}", budget))
    shown = _fit_lines(blocks, len(blocks), "\n\n", partial(text, "more_reports", ui_lang), limit)
    return "\n\n".join([header, *shown])


def timeline_message(events: Sequence, ui_lang: str) -> str:
    """A story's events in date order: day, headline (linked), and the outlets that reported it.
    When they do not all fit, the newest, after a line counting the earlier ones; only the lines
    shown are made, so that a story of thousands of events costs no more than a short one."""
    header = text("timeline_header", ui_lang, n=len(events))
    newest_first = (_event_line(event, ui_lang) for event in reversed(events))
    earlier = partial(text, "timeline_earlier", ui_lang)
    lines = _fit_lines(newest_first, len(events), "\n", earlier, MAX_UTF16 - utf16_len(header) - 1)
    return "\n".join([header, *reversed(lines)])


def _event_line(event, ui_lang: str) -> str:
    first = event.articles[0]
    day = esc(isolate(human_date(event.date, ui_lang), ui_lang)) if event.date else "…"
    title = esc(isolate(shorten(first["title"], MAX_TITLE_CHARS), ui_lang))
    link = _safe_url(first["url"])
    title = f'<a href="{html.escape(link, quote=True)}">{title}</a>' if link else title
    outlets = list(dict.fromkeys(a["outlet"] for a in event.articles if a["outlet"]))
    named = [esc(isolate(shorten(o, MAX_OUTLET_CHARS), ui_lang)) for o in outlets[:MAX_EVENT_OUTLETS]]
    named += [ELLIPSIS] if len(outlets) > MAX_EVENT_OUTLETS else []
    return f"• <b>{day}</b> — {title}" + (f" ({' · '.join(named)})" if named else "")


def _source_name(source: str, ui_lang: str) -> str:
    if source in ("seeds", "file", "link"):
        return text(f"source_{source}", ui_lang)
    return urlsplit(source).hostname or source  # a feed: its site (never credentials in its URL)


def _article_line(doc: Document, ui_lang: str) -> str:
    title = esc(isolate(shorten(doc.title, MAX_TITLE_CHARS), ui_lang))
    link = _safe_url(doc.url)
    title = f'<a href="{html.escape(link, quote=True)}">{title}</a>' if link else title
    return f"• {title}" + (f" — {esc(human_date(doc.date, ui_lang))}" if doc.date else "")


def sources_message(summary: ArchiveSummary, ui_lang: str) -> str:
    """How many articles, from which sources, over which dates, and the newest few."""
    lines = [text("sources_header", ui_lang, n=f"{summary.total:,}")]
    if summary.first and summary.last:
        span = human_period(summary.first, summary.last, ui_lang)
        lines.append(text("sources_dates", ui_lang, span=esc(span)))
    if summary.outlets:
        lines.append(text("sources_outlets", ui_lang))
        lines += [f"• {esc(isolate(outlet, ui_lang))}: {n:,}" for outlet, n in summary.outlets[:10]]
        if summary.sources:
            lines.append(text("sources_unnamed", ui_lang))
    lines += [f"• {esc(isolate(_source_name(source, ui_lang), ui_lang))}: {n:,}" for source, n in summary.sources[:10]]
    if summary.newest:
        lines += ["", text("sources_newest", ui_lang)] + [_article_line(d, ui_lang) for d in summary.newest]
    return "\n".join(_fit_lines(lines))


def latest_message(docs: Sequence[Document], topic: str | None, ui_lang: str) -> str:
    if not docs:
        return text("latest_none", ui_lang)
    header = text("latest_topic", ui_lang, topic=esc(shorten(topic, 100))) if topic else text("latest", ui_lang)
    return "\n".join(_fit_lines([header] + [_article_line(d, ui_lang) for d in docs]))


def _fit_lines(
    lines: Iterable[str],
    count: int | None = None,
    sep: str = "\n",
    rest: Callable[[int], str] | None = None,
    limit: int = MAX_UTF16,
) -> list[str]:
    """The first of `lines` that fit, joined by `sep`, within `limit` UTF-16 units (at least
    one), each made (`lines` may be a generator) and measured once. When not all `count` lines
    fit, with `rest`: then rest(n=how many were left out), room kept for it."""
    kept, ends, total = [], [], -len(sep)
    for line in lines:
        total += len(sep) + utf16_len(line)
        if total > limit and kept:
            break
        kept.append(line)
        ends.append(total)
    if rest is None or len(kept) == count:
        return kept
    room = limit - len(sep) - utf16_len(rest(n=count))
    kept = kept[: max(1, bisect.bisect_right(ends, room))]
    return [*kept, rest(n=count - len(kept))]


def following_message(follows: Sequence, ui_lang: str) -> str:
    """/following: what a chat follows, numbered (the numbers /unfollow and the buttons take)."""
    if not follows:
        return text("following_none", ui_lang)
    lines = [text("following_header", ui_lang, n=len(follows))]
    for n, f in enumerate(follows, 1):
        kind = text(f"following_{f.kind}", ui_lang)
        lines.append(f"{n}. {kind}: {follow_label(f.label, ui_lang)}")
    return "\n".join(_fit_lines(lines))


def follow_label(label: str, ui_lang: str) -> str:
    """What a follow is called in a message: its words or its story's title, short, escaped."""
    return esc(isolate(shorten(label, MAX_TITLE_CHARS), ui_lang))


def push_messages(groups: Sequence[tuple], ui_lang: str) -> list[tuple[str, list[int]]]:
    """What a follower is sent for one poll: for each follow, a line naming it, then its new
    passages (one an event of a story, one an article for a question), quoted and cited as in
    any answer, numbered across the whole. `groups` holds (follow, [Passage]); returns the
    messages, each with the numbers of the passages it holds, split only between passages."""
    messages: list[tuple[str, list[int]]] = []
    current, numbers, n = "", [], 0
    for follow, passages in groups:
        header = text(f"push_{follow.kind}", ui_lang, label=follow_label(follow.label, ui_lang))
        blocks = []
        for p in passages:
            n += 1
            blocks.append((passage_block(p, n, ui_lang, MAX_UTF16 - utf16_len(header) - 2), n))
        for i, (block, number) in enumerate(blocks):
            piece = f"{header}\n\n{block}" if i == 0 else block
            joined = f"{current}\n\n{piece}" if current else piece
            if utf16_len(joined) > MAX_UTF16 and current:
                messages.append((current, numbers))
                current, numbers = f"{header}\n\n{block}", []
            else:
                current = joined
            numbers.append(number)
    if current:
        messages.append((current, numbers))
    return messages
