"""The bot's side of the engine: searches off the event loop with a bound on how many run
at once, hot reload of new index builds, and the figures /stats shows."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections import deque
from dataclasses import dataclass

from index.documents import Document
from index.search import Answer, Searcher
from index.store import IndexUnavailable, current_build

log = logging.getLogger(__name__)


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

    async def ask(self, question: str, k: int | None = None, offset: int = 0) -> Answer:
        async with self._slots:
            answer = await asyncio.to_thread(self.searcher.ask, question, k, offset)
        self.served += 1
        self._latencies.append(answer.took_ms)
        return answer

    def paragraph(self, doc_id: str, paragraph: int) -> ParagraphView | None:
        index = self.searcher.index
        for row, doc in enumerate(index.documents):
            if doc.id == doc_id and 1 <= paragraph <= len(index.paragraph_spans[row]):
                return ParagraphView(doc, paragraph, index.paragraph_text(row, paragraph))
        return None

    def sources(self) -> list[tuple[str, int]]:
        index = self.searcher.index
        counts = [0] * len(index.documents)
        for chunk in index.chunks:
            counts[chunk.doc] += 1
        return [(doc.title, n) for doc, n in zip(index.documents, counts)]

    async def reload(self) -> bool:
        """Switch to a newer current build if there is one. Raises IndexUnavailable (and keeps
        serving the old index) when the new build cannot be opened."""
        return await asyncio.to_thread(self.searcher.reload)

    async def watch(self, every_seconds: float) -> None:
        """Poll for new builds forever; a bad build is logged once and the old index kept."""
        while True:
            await asyncio.sleep(every_seconds)
            newest = current_build(self.searcher.index_dir)
            if newest in (self.searcher.index.path, self._refused_build):
                continue
            try:
                if await self.reload():
                    log.info("now serving index build %s", self.searcher.index.build_id)
            except IndexUnavailable as exc:
                self._refused_build = newest
                log.error("kept the previous index: %s", exc)

    def stats(self) -> dict:
        index = self.searcher.index
        age = time.time() - index.path.stat().st_mtime
        return {
            "documents": len(index.documents),
            "chunks": len(index.chunks),
            "model": index.manifest.get("model_id", "?"),
            "age": _duration(age),
            "served": self.served,
            "p50": round(statistics.median(self._latencies)) if self._latencies else "–",
        }


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} d"
