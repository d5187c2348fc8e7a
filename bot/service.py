"""The bot's side of the engine: searches off the event loop with a bound on how many run
at once, hot reload of new index builds, and the figures /stats shows."""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import Counter, deque
from dataclasses import dataclass

from index.articles import open_articles
from index.documents import Document
from index.search import Answer, Searcher
from index.store import IndexUnavailable

from .keyboards import Quoted, quote_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSummary:
    """What /sources tells: how many articles, from where, over which dates, the newest ones."""

    total: int
    sources: list[tuple[str, int]]  # (source, articles), most first: seeds, file, link, or a feed URL
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
        counts = Counter(known.get(doc_id, "seeds") for doc_id in index.doc_row)
        return ArchiveSummary(
            index.n_documents,
            counts.most_common(),
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
        return await asyncio.to_thread(self.searcher.reload)

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
