"""`add` and `update`: links, files and feeds into the article store, one summary line for all.

One bad item never stops the rest: each failure is a line in the summary, and a feed's page
that failed is tried again at later updates, waiting longer each time, until it is given up.
A feed that has not changed costs one conditional GET (a 304), a feed item already stored is
fetched again only when its date moved on (or with `recheck`), and a removed article is never
fetched or stored again unless `add --force` takes it back.
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
from .feeds import FeedError, FeedItem, parse_feed
from .http import Fetcher, FetchError
from .urls import canonical_url, is_web_url, redact_url

log = logging.getLogger(__name__)


@dataclass
class Summary:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url or file, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url or file, when it was removed)
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

    def skip(self, where: str, removed: str) -> None:
        self.skipped.append((where, removed[:10]))

    def line(self) -> str:
        parts = [f"{self.new} new", f"{self.changed} changed", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        text = ", ".join(parts)
        if self.skipped:
            text += f", {len(self.skipped)} skipped: " + "; ".join(
                f"{where}: removed on {when}" for where, when in self.skipped
            )
            text += " (`add --force` takes one back)"
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
            "skipped": [{"source": where, "removed": when} for where, when in self.skipped],
            "ids": self.ids,
            "summary": self.line(),
        }


def article_id(url: str) -> str:
    return "web-" + hashlib.sha256(url.encode()).hexdigest()[:12]


def file_id(path: Path) -> str:
    """An added file's article id: its name, after a digest of where it lies, so that two files
    of one name are two articles (and the id shows no folder)."""
    return f"file-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}/{path.name}"


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed page is tried again (see sources.retry_minutes, sources.max_attempts)."""

    retry_minutes: float = 0.0
    max_attempts: int = 5


class Ingestor:
    """`seeds_dir`: a file added from inside it is stored as the seed it is (the same id and
    source a build gives it), not as a second article. `max_items_per_poll`: pages fetched from
    one feed at one poll (see sources.max_items_per_poll)."""

    def __init__(
        self,
        store: ArticleStore,
        fetcher: Fetcher,
        progress: Callable[[Iterable], Iterable] = iter,
        retry: RetryPolicy = RetryPolicy(),
        seeds_dir: Path | None = None,
        max_items_per_poll: int = 200,
    ):
        self.store, self.fetcher, self.progress, self.retry = store, fetcher, progress, retry
        self.seeds_dir = seeds_dir.resolve() if seeds_dir else None
        self.max_items_per_poll = max_items_per_poll

    def page(
        self,
        url: str,
        source: str,
        summary: Summary,
        title: str | None = None,
        date: str | None = None,
        entry_date: str | None = None,
        force: bool = False,
        retries: int | None = None,
        outlet: str | None = None,
    ) -> None:
        """Fetch one article page and store it, under the URL it ends at after redirects (the one
        asked for kept as an alias); a failure is counted and kept for a retry. The feed's `title`
        and `date` are used where the page has none (the feed's date first: a page's visible date
        is often only a day); `entry_date` is when the feed says the item last changed. A page
        removed before is not fetched, unless `force` takes it back."""
        asked = canonical_url(url)
        gone = None if force else self.store.tombstone(asked)
        if gone is not None:
            summary.skip(asked, gone.removed)
            return
        try:
            response = self.fetcher.get(asked, retries=retries)
            final = canonical_url(response.url or asked)
            found = extract_article(response.content, final, response.content_type, response.charset)
        except (FetchError, NotAnArticle) as exc:
            self._failed(asked, source, str(exc), summary)
            return
        except Exception as exc:  # an extractor bug on one odd page must not stop the rest
            log.exception("%s: extraction failed", asked)
            self._failed(asked, source, f"extraction failed ({type(exc).__name__})", summary)
            return
        known = self.store.get(asked)
        article = Article(
            known.id if known else article_id(final),
            final,
            found.title or title or final,
            date or found.date,
            found.lang,
            source,
            found.text,
            entry_date=entry_date,
            outlet=outlet or found.site,  # the feed's title, else the page's site name
        )
        outcome = self.store.put(article, force=force)
        if outcome == "removed":
            summary.skip(asked, self.store.tombstone(final, article.fingerprint).removed)
            return
        if final != asked:
            self.store.alias(asked, final)
        summary.count(outcome, article.id)

    def _failed(self, url: str, source: str, reason: str, summary: Summary) -> None:
        attempts = self.store.record_failure(url, source, reason, self.retry.retry_minutes)
        if source != "link" and attempts >= self.retry.max_attempts:
            reason += f"; given up after {attempts} tries"
        summary.fail(url, reason)

    def add(self, targets: list[str], force: bool = False) -> Summary:
        """Links (fetched) and files (read: txt, md, html, jsonl), stored now. `force` takes back
        articles that were removed."""
        summary = Summary()
        for target in self.progress(targets):
            path = Path(target)
            if is_web_url(target):
                self.page(target, "link", summary, force=force)
            elif path.is_file() and path.suffix.lower() in SUFFIXES:
                self._file(path, target, force, summary)
            else:
                summary.fail(target, f"not an http(s) URL or a file of {', '.join(SUFFIXES)}")
        return summary

    def _file(self, path: Path, target: str, force: bool, summary: Summary) -> None:
        resolved = path.resolve()
        if self.seeds_dir and resolved.is_relative_to(self.seeds_dir):
            base, source = resolved.relative_to(self.seeds_dir).as_posix(), "seeds"
        else:
            base, source = file_id(path), "file"
        problems: list[str] = []
        docs = list(load_file(path, base, problems.append))
        for problem in problems:
            summary.fail(target, problem)
        for doc in docs:
            article = Article(
                doc.id, doc.url and canonical_url(doc.url), doc.title, doc.date, doc.lang, source, doc.text
            )
            outcome = self.store.put(article, force=force)
            if outcome == "removed":
                summary.skip(target, self.store.tombstone(article.id, article.url, article.fingerprint).removed)
            else:
                summary.count(outcome, article.id)

    def update(self, feeds: Iterable[str], recheck: bool = False) -> Summary:
        """Poll every feed, take in new and changed items, retry the pages of these feeds that
        failed before and are due (once each, without waiting between tries), and with
        `recheck` fetch every stored page again."""
        feeds = list(feeds)
        summary, seen, polled = Summary(), set(), {redact_url(feed) for feed in feeds}
        due = self.store.due_failures(self.retry.max_attempts)
        # A failed page still listed by its feed waits out its backoff (or stays given up) too.
        waiting = {failure.url for failure in self.store.failures()} - {failure.url for failure in due}
        for feed in feeds:
            self._feed(feed, recheck, summary, seen, waiting)
        for failure in due:
            if failure.url not in seen and failure.source in polled:
                seen.add(failure.url)
                self.page(failure.url, failure.source, summary, retries=0)
        if recheck:
            for article in self.store.articles():
                if article.url and article.url not in seen and article.source not in ("seeds", "file"):
                    seen.add(article.url)
                    self.page(
                        article.url,
                        article.source,
                        summary,
                        article.title,
                        article.date,
                        article.entry_date,
                        outlet=article.outlet,
                    )
        return summary

    def _feed(self, feed: str, recheck: bool, summary: Summary, seen: set[str], waiting: set[str]) -> None:
        """One feed, at most `max_items_per_poll` of its pages, the newest first; it is named (and
        stored as its items' source) without its user name and password, should its URL carry them."""
        name = redact_url(feed)
        etag, modified = self.store.feed_state(name)
        try:
            response = self.fetcher.get(feed, etag, modified)
            if response.status == 304:
                return
            items = parse_feed(response.content)
        except (FetchError, FeedError) as exc:
            summary.fail(name, str(exc))
            return
        wanted = self._wanted(items, recheck, summary, seen, waiting)
        taken = sorted(wanted, key=lambda pair: pair[1].published or "", reverse=True)[: self.max_items_per_poll]
        for url, item in self.progress(taken):
            seen.add(url)
            self.page(url, name, summary, item.title, item.published, item.updated, outlet=item.outlet)
        # Saved once every item was taken in (or recorded as failed): a kill half way polls again.
        # A capped poll forgets them, so that the next poll is not a 304 that hides the rest.
        whole = len(taken) == len(wanted)
        headers = response.headers
        self.store.set_feed_state(
            name, headers.get("etag") if whole else None, headers.get("last-modified") if whole else None
        )

    def _wanted(
        self, items: list[FeedItem], recheck: bool, summary: Summary, seen: set[str], waiting: set[str]
    ) -> list[tuple[str, FeedItem]]:
        """The feed's pages to fetch, by canonical URL: new, or changed since stored (every one
        with `recheck`), each once, none that is waiting to be tried again."""
        wanted: dict[str, FeedItem] = {}
        for item in items:
            if not is_web_url(item.url):  # a feed may link anywhere: javascript:, file:, relative paths
                summary.fail(redact_url(item.url), "not an http(s) link")
                continue
            url = canonical_url(item.url)
            if url in seen or url in waiting or url in wanted:
                continue
            known = self.store.get(url)
            if known is not None and not recheck and (item.updated is None or item.updated == known.entry_date):
                seen.add(url)
                summary.unchanged += 1
                continue
            wanted[url] = item
        return list(wanted.items())


def fetcher_for(config: Config) -> Fetcher:
    s = config.sources
    return Fetcher(s.timeout_seconds, int(s.max_page_mb * (1 << 20)), allow_private=s.allow_private_addresses)


def ingestor_for(config: Config, store: ArticleStore, fetcher: Fetcher, progress) -> Ingestor:
    s = config.sources
    retry = RetryPolicy(s.retry_minutes, s.max_attempts)
    return Ingestor(store, fetcher, progress, retry, config.seeds_dir, s.max_items_per_poll)


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
    config: Config, models: Models, targets: list[str], progress: bool = False, warn=print, force: bool = False
) -> tuple[Summary, BuildResult | None]:
    """`sanad-index add`: links and files into the store, then into the index; `force` takes
    back articles that were removed."""
    with open_articles(config) as store, fetcher_for(config) as fetcher:
        summary = ingestor_for(config, store, fetcher, _bar(progress, "adding")).add(targets, force)
    return summary, _reindex(config, models, progress, warn)


def update_archive(
    config: Config, models: Models, recheck: bool = False, progress: bool = False, warn=print
) -> tuple[Summary, BuildResult | None]:
    """`sanad-index update` and the bot's polling: every feed into the store, then the index."""
    with open_articles(config) as store, fetcher_for(config) as fetcher:
        summary = ingestor_for(config, store, fetcher, _bar(progress, "feed items")).update(
            config.sources.feeds, recheck
        )
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
