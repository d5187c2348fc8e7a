"""The bot's side of the engine: searches off the event loop with a bound on how many run
at once, hot reload of new index builds, and the figures /stats shows."""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import Counter, deque
from dataclasses import dataclass

from index.articles import open_articles
from index.corroboration import Report
from index.documents import Document
from index.fragments import link_to_quote
from index.search import Answer, Searcher
from index.store import IndexUnavailable

from .keyboards import Quoted, quote_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSummary:
    """What /sources tells: how many articles, from where, over which dates, the newest ones."""

    total: int
    sources: list[tuple[str, int]]  # (source, articles) of those with no outlet, most first: seeds, file, link, feed
    outlets: list[tuple[str, int]]  # (outlet, articles), most first: the articles whose outlet is known
    first: str | None  # ISO date of the oldest dated article
    last: str | None
    newest: list[Document]


@dataclass(frozen=True)
class ParagraphView:
    document: Document
    paragraph: int
    text: str


class SearchService:
    def __init__(self, searcher: Searcher, max_concurrent: int):
        self.searcher = searcher
        self._slots = asyncio.Semaphore(max_concurrent)
        self._latencies: deque[float] = deque(maxlen=1000)
        self.served = 0
        self._refused_build = None  # a damaged build already reported, not retried every check
        self._store_problem = None  # the last reason the store could not be asked, logged once
        self.on_switch: list = []  # called (on the event loop) after a newer build is served

    async def searching(self, work, *args):
        """`work(*args)` in a worker thread, as one of the searches bot.max_concurrent_searches
        allows at once (pushes to followers search too)."""
        async with self._slots:
            return await asyncio.to_thread(work, *args)

    async def ask(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        async with self._slots:
            answer = await asyncio.to_thread(self.searcher.ask, question, k, offset)
        self.served += 1
        self._latencies.append(answer.took_ms)
        return answer

    def paragraph(self, quoted: Quoted) -> ParagraphView | None:
        """The paragraph a passage was quoted from, if the article in use still holds the
        quoted text at the same place in it; None when it has changed or gone."""
        index = self.searcher.index
        row = index.doc_row.get(quoted.doc_id)
        if row is None or not 1 <= quoted.paragraph <= len(index.paragraph_spans[row]):
            return None
        doc = index.documents[row]
        start, end = index.paragraph_spans[row][quoted.paragraph - 1]
        if not start <= quoted.start < quoted.end <= end:
            return None
        if quote_digest(doc.text[quoted.start : quoted.end]) != quoted.digest:
            return None
        return ParagraphView(doc, quoted.paragraph, doc.text[start:end])

    def sources(self, newest: int = 5) -> ArchiveSummary:
        index = self.searcher.index
        dated = index.newest_first(index.doc_row.values())
        known: dict[str, str] = {}
        store = open_articles(self.searcher.config, create=False)  # an index built straight from files has none
        if store is not None:
            with store:
                known = store.sources()
        outlets = {row: self.searcher.outlet(index, row) for row in index.doc_row.values()}
        counts = Counter(known.get(doc_id, "seeds") for doc_id, row in index.doc_row.items() if not outlets[row])
        return ArchiveSummary(
            index.n_documents,
            counts.most_common(),
            Counter(name for name in outlets.values() if name).most_common(),
            index.day(dated[-1]) if dated else None,
            index.day(dated[0]) if dated else None,
            [index.documents[row] for row in dated[:newest]],
        )

    async def latest(self, topic: str | None, n: int = 5) -> list[Document]:
        """The newest dated articles; with a topic, the newest of those that answer it."""
        index = self.searcher.index
        rows = index.doc_row.values()
        if topic:
            async with self._slots:
                rows = await asyncio.to_thread(self.searcher.relevant_articles, topic, index)
        return [index.documents[row] for row in index.newest_first(rows)[:n]]

    async def reload(self) -> bool:
        """Switch to a newer current build if there is one. Raises IndexUnavailable (and keeps
        serving the old index) when the new build cannot be opened."""
        switched = await asyncio.to_thread(self.searcher.reload)
        if switched:
            for listener in self.on_switch:
                listener()
        return switched

    async def watch(self, every_seconds: float) -> None:
        """Poll for new builds until cancelled. A build that cannot be opened is logged once and
        the old index kept; any other failure is logged and the next check tries again: the
        watcher never dies quietly."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.check_for_build()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("checking for a new index build failed; will try again")

    async def check_for_build(self) -> None:
        """Serve the current build if it is newer than the one in use."""
        try:
            newest = await asyncio.to_thread(self.searcher.newest_build)
        except IndexUnavailable as exc:  # the store's server is down: the build in use keeps serving
            if str(exc) != self._store_problem:
                log.warning("cannot check for a new build: %s", exc)
            self._store_problem = str(exc)
            return
        self._store_problem = None
        if newest in (self.searcher.index.build_id, self._refused_build):
            return
        try:
            if await self.reload():
                log.info("now serving index build %s", self.searcher.index.build_id)
        except IndexUnavailable as exc:
            self._refused_build = newest
            log.error("kept the previous index: %s", exc)
        except Exception:  # anything else a damaged or huge build raises: reported once, like the above
            self._refused_build = newest
            log.exception("kept the previous index: build %s could not be opened", newest)

    def reports(self, stored: list[tuple[str, int, int, str]]) -> list | None:
        """The other outlets' sentences a reply named, as the index in use holds them now; None
        when one of their articles has changed or gone since."""
        index, found = self.searcher.index, []
        for doc_id, start, end, digest in stored:
            row = index.doc_row.get(doc_id)
            if row is None or quote_digest(index.documents[row].text[start:end]).hex() != digest:
                return None
            doc = index.documents[row]
            link = link_to_quote(doc.url, doc.text, start, end) if doc.url else None
            found.append(Report(doc.id, self.searcher.outlet(index, row), doc.title, doc.url, doc.date,
                                doc.text[start:end], link, start, end))  # fmt: skip
        return found

    def timeline(self, doc_id: str):
        """The events of the story of an article, in date order (None when it has gone)."""
        found = self.searcher.timeline(doc_id)
        return found[1] if found else None

    def with_timeline(self, passages) -> frozenset[int]:
        """The ranks of the passages whose story holds more than one event in the index in use:
        they get a Timeline button."""
        index = self.searcher.index
        return frozenset(
            p.rank
            for p in passages
            if len({index.event_of[row] for row in index.story_rows.get(p.story or "", [])}) > 1
        )

    def stats(self) -> dict:
        index = self.searcher.index
        return {
            "documents": index.n_documents,
            "chunks": index.n_chunks,
            "model": index.manifest.get("model_id", "?"),
            "age": _duration(index.age_seconds()),
            "served": self.served,
            "p50": round(statistics.median(self._latencies)) if self._latencies else "–",
        }


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} d"
