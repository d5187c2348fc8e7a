"""`add` and `update`: links, files and feeds into the article store, one summary line for all.

One bad item never stops the rest: each failure is a line in the summary and is tried again at
the next update. A feed that has not changed costs one conditional GET (a 304), and a feed item
already stored is fetched again only when its date moved on (or with `recheck`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..articles import Article, ArticleStore, open_articles
from ..build import BuildResult, build_from_store, has_build
from ..config import Config
from ..documents import SUFFIXES, load_file
from ..embed import Models
from .extract import NotAnArticle, extract_article
from .feeds import FeedError, parse_feed
from .http import Fetcher, FetchError
from .urls import canonical_url, is_web_url

log = logging.getLogger(__name__)


@dataclass
class Summary:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url or file, reason)
    ids: list[str] = field(default_factory=list)  # articles new or changed

    def count(self, outcome: str, article_id: str) -> None:
        """One stored article: "new", "changed", "unchanged", or "duplicate" (counted unchanged)."""
        if outcome in ("new", "changed"):
            self.ids.append(article_id)
        outcome = "unchanged" if outcome == "duplicate" else outcome
        setattr(self, outcome, getattr(self, outcome) + 1)

    def fail(self, where: str, reason: str) -> None:
        self.failed.append((where, reason))
        log.warning("%s: %s", where, reason)

    def line(self) -> str:
        parts = [f"{self.new} new", f"{self.changed} changed", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        text = ", ".join(parts)
        if self.failed:
            text += f", {len(self.failed)} failed: " + "; ".join(f"{where}: {why}" for where, why in self.failed)
        return text

    def to_dict(self) -> dict:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": [{"source": where, "reason": why} for where, why in self.failed],
            "ids": self.ids,
            "summary": self.line(),
        }


def article_id(url: str) -> str:
    return "web-" + hashlib.sha256(url.encode()).hexdigest()[:12]


class Ingestor:
    def __init__(self, store: ArticleStore, fetcher: Fetcher, progress: Callable[[Iterable], Iterable] = iter):
        self.store, self.fetcher, self.progress = store, fetcher, progress

    def page(
        self,
        url: str,
        source: str,
        summary: Summary,
        title: str | None = None,
        date: str | None = None,
        entry_date: str | None = None,
    ) -> None:
        """Fetch one article page and store it; a failure is counted and kept for a retry. The
        feed's `title` and `date` are used where the page has none (the feed's date first: a
        page's visible date is often only a day); `entry_date` is when the feed says the item
        last changed."""
        url = canonical_url(url)
        try:
            response = self.fetcher.get(url)
            found = extract_article(response.content, url, response.content_type, response.charset)
        except (FetchError, NotAnArticle) as exc:
            self.store.record_failure(url, source, str(exc))
            summary.fail(url, str(exc))
            return
        except Exception as exc:  # an extractor bug on one odd page must not stop the rest
            log.exception("%s: extraction failed", url)
            self.store.record_failure(url, source, f"extraction failed ({type(exc).__name__})")
            summary.fail(url, f"extraction failed ({type(exc).__name__})")
            return
        article = Article(
            article_id(url),
            url,
            found.title or title or url,
            date or found.date,
            found.lang,
            source,
            found.text,
            entry_date=entry_date,
        )
        summary.count(self.store.put(article), article.id)

    def add(self, targets: list[str]) -> Summary:
        """Links (fetched) and files (read: txt, md, html, jsonl), stored now."""
        summary = Summary()
        for target in self.progress(targets):
            path = Path(target)
            if is_web_url(target):
                self.page(target, "link", summary)
            elif path.is_file() and path.suffix.lower() in SUFFIXES:
                problems: list[str] = []
                docs = list(load_file(path, path.name, problems.append))
                for problem in problems:
                    summary.fail(target, problem)
                for doc in docs:
                    article = Article(
                        doc.id, doc.url and canonical_url(doc.url), doc.title, doc.date, doc.lang, "file", doc.text
                    )
                    summary.count(self.store.put(article), article.id)
            else:
                summary.fail(target, f"not an http(s) URL or a file of {', '.join(SUFFIXES)}")
        return summary

    def update(self, feeds: Iterable[str], recheck: bool = False) -> Summary:
        """Poll every feed, take in new and changed items, retry the pages that failed before,
        and with `recheck` fetch every stored page again."""
        summary, seen = Summary(), set()
        for feed in feeds:
            self._feed(feed, recheck, summary, seen)
        for url, source in self.store.failures():
            if url not in seen and source != "link":
                seen.add(url)
                self.page(url, source, summary)
        if recheck:
            for article in self.store.articles():
                if article.url and article.url not in seen and article.source not in ("seeds", "file"):
                    seen.add(article.url)
                    self.page(article.url, article.source, summary, article.title, article.date, article.entry_date)
        return summary

    def _feed(self, feed: str, recheck: bool, summary: Summary, seen: set[str]) -> None:
        etag, modified = self.store.feed_state(feed)
        try:
            response = self.fetcher.get(feed, etag, modified)
            if response.status == 304:
                return
            items = parse_feed(response.content)
        except (FetchError, FeedError) as exc:
            summary.fail(feed, str(exc))
            return
        for item in self.progress(items):
            url = canonical_url(item.url)
            if url in seen:
                continue
            seen.add(url)
            known = self.store.get(url)
            if known is not None and not recheck and (item.updated is None or item.updated == known.entry_date):
                summary.unchanged += 1
                continue
            self.page(url, feed, summary, item.title, item.published, item.updated)
        # Saved once every item was taken in (or recorded as failed): a kill half way polls again.
        self.store.set_feed_state(feed, response.headers.get("etag"), response.headers.get("last-modified"))


def fetcher_for(config: Config) -> Fetcher:
    return Fetcher(config.sources.timeout_seconds, int(config.sources.max_page_mb * (1 << 20)))


def _bar(progress: bool, what: str) -> Callable[[Iterable], Iterable]:
    if not progress:
        return iter
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=what, unit="item", leave=False)


def _reindex(config: Config, models: Models, progress: bool, warn) -> BuildResult | None:
    """Bring the index in line with the store: whatever changed now, and whatever an earlier run
    stored but could not index (another build was running, it was killed). None when the index
    already matched."""
    with open_articles(config) as store:
        if not store.count() and not has_build(config):
            return None  # nothing stored yet, nothing to index
    result = build_from_store(config, models, progress=progress, warn=warn, verify=False)
    return None if result.up_to_date else result


def add_articles(
    config: Config, models: Models, targets: list[str], progress: bool = False, warn=print
) -> tuple[Summary, BuildResult | None]:
    """`sanad-index add`: links and files into the store, then into the index."""
    with open_articles(config) as store, fetcher_for(config) as fetcher:
        summary = Ingestor(store, fetcher, _bar(progress, "adding")).add(targets)
    return summary, _reindex(config, models, progress, warn)


def update_archive(
    config: Config, models: Models, recheck: bool = False, progress: bool = False, warn=print
) -> tuple[Summary, BuildResult | None]:
    """`sanad-index update` and the bot's polling: every feed into the store, then the index."""
    with open_articles(config) as store, fetcher_for(config) as fetcher:
        summary = Ingestor(store, fetcher, _bar(progress, "feed items")).update(config.sources.feeds, recheck)
    return summary, _reindex(config, models, progress, warn)


def remove_articles(
    config: Config, models: Models, keys: list[str], progress: bool = False, warn=print
) -> tuple[Summary, BuildResult | None]:
    """`sanad-index remove`: articles by id or URL out of the store and the index."""
    summary = Summary()
    with open_articles(config) as store:
        for key in keys:
            found = store.remove(key) or (store.remove(canonical_url(key)) if is_web_url(key) else None)
            if found is None:
                summary.fail(key, "no such article")
            else:
                summary.removed += 1
                summary.ids.append(found.id)
    return summary, _reindex(config, models, progress, warn)
