"""RSS and Atom feeds, read with feedparser after defusedxml has refused entity declarations
(an entity bomb expands a few bytes into gigabytes)."""

from __future__ import annotations

import calendar
import io
import time
from dataclasses import dataclass

import feedparser
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring


class FeedError(Exception):
    """A feed that cannot be read; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    url: str
    title: str | None
    published: str | None  # ISO 8601 (UTC); an Atom entry with only <updated> gives that
    updated: str | None  # when the item last changed, if the feed says; else when it was published
    outlet: str | None = None  # the feed's own title: who publishes it


def _iso(parsed: time.struct_time | None) -> str | None:
    if parsed is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(parsed)))


def parse_feed(content: bytes) -> list[FeedItem]:
    """The feed's items that link to a page."""
    try:
        fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise FeedError("refused: the feed declares XML entities (an entity bomb?)") from None
    except ParseError:
        pass  # malformed XML: feedparser's lenient parser may still read it
    # A stream, never bytes: feedparser would read a body that looks like a path or URL from there.
    parsed = feedparser.parse(io.BytesIO(content), sanitize_html=False, resolve_relative_uris=False)
    items = []
    outlet = (parsed.get("feed", {}).get("title") or "").strip() or None
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        # dict.get: feedparser maps a missing "updated" to "published" with a warning
        updated = _iso(dict.get(entry, "updated_parsed"))
        published = _iso(dict.get(entry, "published_parsed")) or updated
        updated = updated or published
        items.append(FeedItem(link, entry.get("title"), published, updated, outlet))
    if not items and (parsed.bozo or not parsed.get("version")):
        reason = getattr(parsed.get("bozo_exception"), "getMessage", lambda: None)() or "no items"
        raise FeedError(f"not an RSS or Atom feed ({reason})")
    return items
