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
from .embed import Embedder
from .search import Searcher

CUTOFFS = (1, 5, 10)


class EvalError(ValueError):
    """Queries file missing or malformed."""


@dataclass(frozen=True)
class Query:
    id: str
    question: str
    lang: str
    gold: frozenset[str]


def load_queries(path: Path) -> list[Query]:
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
                Query(
                    str(row.get("id", number)), row["question"], row.get("lang", "?"), frozenset(map(str, row["gold"]))
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalError(f"{path} line {number}: needs 'question' and 'gold' ({exc})") from None
    if not queries:
        raise EvalError(f"{path}: no queries")
    return queries


def _scores(ranks: list[int | None]) -> dict:
    n = len(ranks)
    result: dict = {"n": n}
    for k in CUTOFFS:
        result[f"recall@{k}"] = round(sum(r is not None and r <= k for r in ranks) / n, 4)
    result["mrr@10"] = round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4)
    return result


def evaluate(
    config: Config, embedder: Embedder, corpus: Path, queries_path: Path, k: int = 10, progress: bool = False
) -> dict:
    queries = load_queries(queries_path)
    documents = load_corpus(corpus=corpus, warn=lambda _: None)
    with tempfile.TemporaryDirectory(prefix="sanad-eval-") as tmp:
        build_index(config, embedder, documents, index_dir=Path(tmp), progress=progress)
        searcher = Searcher(config, embedder, index_dir=Path(tmp))
        vectors = embedder.embed_queries([q.question for q in queries], progress=progress)
        ranks: list[int | None] = []
        for query, vector in zip(queries, vectors):
            doc_ids: list[str] = []
            for hit in searcher.ranked(vector, candidates=max(config.search.candidates, 5 * k)):
                # Corpus rows are stored as "<file>#<row id>"; gold lists the row ids.
                doc_id = searcher.index.documents[hit.doc].id.split("#", 1)[-1]
                if doc_id not in doc_ids:
                    doc_ids.append(doc_id)
            ranks.append(next((i for i, d in enumerate(doc_ids[:k], 1) if d in query.gold), None))
    by_lang = defaultdict(list)
    for query, rank in zip(queries, ranks):
        by_lang[query.lang].append(rank)
    result = _scores(ranks)
    result["by_lang"] = {lang: _scores(r) for lang, r in sorted(by_lang.items())}
    return result
