"""Retrieval evaluation: a throw-away index of a corpus, every query asked, document-level
Recall@1/5/10 and MRR@10, overall and by query language."""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .build import build_index
from .config import Config
from .documents import load_corpus
from .embed import Models
from .search import Searcher

CUTOFFS = (1, 5, 10)


class EvalError(ValueError):
    """Queries file missing or malformed."""


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    question: str
    lang: str
    gold: frozenset[str]
    answer: str | None
    paragraphs: frozenset[int]  # optional: the paragraphs of the gold document that answer


def load_queries(path: Path) -> list[LabelledQuery]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read queries file {path}: {exc.strerror}") from None
    queries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries.append(
                LabelledQuery(
                    str(row.get("id", number)),
                    row["question"],
                    row.get("lang", "?"),
                    frozenset(map(str, row["gold"])),
                    row.get("answer"),
                    frozenset(map(int, row.get("paragraphs", []))),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"{path} line {number}: needs 'question' and 'gold' ({exc})") from None
    if not queries:
        raise EvalError(f"{path}: no queries")
    return queries


def _rate(flags: list[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return round(sum(known) / len(known), 4) if known else None


def _scores(results: list[dict], k: int) -> dict:
    """Figures over per-query results {rank, answered, highlight, paragraph}, ranked down to
    `k`: recall at the usual cutoffs up to k (a deeper one was not looked at) and at k itself."""
    n = len(results)
    ranks = [r["rank"] for r in results]
    figures: dict = {"n": n}
    for cutoff in sorted({c for c in CUTOFFS if c <= k} | {k}):
        figures[f"recall@{cutoff}"] = round(sum(r is not None and r <= cutoff for r in ranks) / n, 4)
    deepest = min(k, 10)
    figures[f"mrr@{deepest}"] = round(sum(1 / r for r in ranks if r is not None and r <= deepest) / n, 4)
    figures["answered"] = _rate([r["answered"] for r in results])
    for key in ("highlight", "paragraph@3"):
        rate = _rate([r[key] for r in results])
        if rate is not None:
            figures[key] = rate
    return figures


def _judge(searcher: Searcher, query_row: LabelledQuery, query, k: int, candidates: int) -> dict:
    index = searcher.index
    hits = searcher.ranked(query, candidates=candidates)
    hits, answered = searcher.decide(query, hits, index, searcher.answered(query, hits, index))
    doc_ids: list[str] = []
    for hit in hits:
        # Corpus rows are stored as "<file>#<row id>"; gold lists the row ids.
        doc_id = index.documents[hit.doc].id.split("#", 1)[-1]
        if doc_id not in doc_ids:
            doc_ids.append(doc_id)
    rank = next((i for i, d in enumerate(doc_ids[:k], 1) if d in query_row.gold), None)
    highlight = paragraph = None
    if query_row.answer and hits:
        start, end = searcher.highlight(index, hits[0], query)
        highlight = query_row.answer in index.documents[hits[0].doc].text[start:end]
    if query_row.paragraphs:
        paragraph = answered and any(
            index.documents[h.doc].id.split("#", 1)[-1] in query_row.gold and h.paragraph in query_row.paragraphs
            for h in hits[:3]
        )
    return {"rank": rank, "answered": answered, "highlight": highlight, "paragraph@3": paragraph}


def evaluate(
    config: Config, models: Models, corpus: Path, queries_path: Path, k: int = 10, progress: bool = False
) -> dict:
    """Build a throw-away index of `corpus` (a JSONL file or an articles folder) and judge every query."""
    queries = load_queries(queries_path)
    if corpus.is_dir():
        documents = load_corpus(seeds_dir=corpus, warn=lambda _: None)
    else:
        documents = load_corpus(corpus=corpus, warn=lambda _: None)
    with tempfile.TemporaryDirectory(prefix="sanad-eval-") as tmp:
        build_index(config, models, documents, index_dir=Path(tmp), progress=progress)
        searcher = Searcher(config, models, index_dir=Path(tmp))
        prepared = searcher.queries([q.question for q in queries])
        candidates = max(config.search.candidates, 5 * k)
        results = [_judge(searcher, row, query, k, candidates) for row, query in zip(queries, prepared)]
    by_lang = defaultdict(list)
    for row, result in zip(queries, results):
        by_lang[row.lang].append(result)
    figures = _scores(results, k)
    figures["by_lang"] = {lang: _scores(r, k) for lang, r in sorted(by_lang.items())}
    return figures
