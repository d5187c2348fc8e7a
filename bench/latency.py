"""`ask` latency in-process at 1k and 10k chunks (30k: `--chunks 30000`), split into embedding
the question, searching (FAISS, BM25, fusion), the sentence stage (the ranker's signals and
scores over the candidate sentences, or a CrossEncoder's, and the passages built around them;
0 with search.ranker off) and formatting the Telegram reply; and peak memory.

The corpus is XQuAD's paragraphs (Arabic and English) plus the seed article, repeated under
new ids up to the size wanted: real text, real vectors (from the embedding cache after the
first run), real index structures. Questions are XQuAD's, both languages.

    .venv/bin/python bench/latency.py [--chunks 1000 10000] [--questions 200] [--ranker off] [--matcher NAME]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_config, with_search_settings  # noqa: E402

from bot.formatting import answer_messages  # noqa: E402
from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import Document, load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Answer, Searcher  # noqa: E402


def corpus(xquad: Path, chunks_wanted: int, chunks_per_doc: float) -> list[Document]:
    base = load_corpus(ROOT / "seeds") + load_corpus(corpus=xquad / "corpus.ar.jsonl", warn=lambda _: None)
    base += load_corpus(corpus=xquad / "corpus.en.jsonl", warn=lambda _: None)
    docs, copy = [], 0
    while len(docs) * chunks_per_doc < chunks_wanted:
        docs += [dataclasses.replace(d, id=f"{d.id}~{copy}") for d in base]
        copy += 1
    return docs[: int(chunks_wanted / chunks_per_doc) + 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--chunks", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument(
        "--ranker", choices=("default", "off"), help="search.ranker for this run (default: the config's)"
    )
    parser.add_argument("--matcher", help="search.matcher for this run (default: the config's), a CrossEncoder")
    args = parser.parse_args()
    config = load_config(args.config)
    config = with_search_settings(config, args)
    models = load_models(config)
    questions = []
    for lang in ("ar", "en"):
        rows = [json.loads(line) for line in open(args.xquad / f"queries.{lang}.jsonl", encoding="utf-8")]
        questions += [r["question"] for r in rows[: args.questions // 2]]
    print(
        f"backend {config.model.backend}, second model {config.model.second or 'none'}, "
        f"ranker {config.search.ranker}, matcher {config.search.matcher}; "
        f"{len(questions)} questions (Arabic and English)\n"
    )
    print(
        f"{'chunks':>7}{'embed p50':>11}{'search p50':>12}{'stage p50':>11}{'format p50':>12}"
        f"{'total p50':>11}{'total p95':>11}"
        f"{'peak MiB':>10}"
    )
    for wanted in args.chunks:
        with scratch_config(config) as cfg:
            docs = corpus(args.xquad, wanted, 2.5)
            result = build_index(cfg, models, docs)
            searcher = Searcher(cfg, models)
            timings = []
            for question in questions:
                t0 = time.perf_counter()
                [query] = searcher.queries([question])
                t1 = time.perf_counter()
                hits = searcher.ranked(query, candidates=max(cfg.search.candidates, 9))
                answered = searcher.answered(query, hits, searcher.index)
                t2 = time.perf_counter()
                hits, answered = searcher.decide(query, hits, searcher.index, answered)
                passages = [searcher.passage(searcher.index, h, r, query) for r, h in enumerate(hits[:3], 1)]
                t3 = time.perf_counter()
                answer_messages(Answer(query.text, query.lang, answered, passages), query.lang)
                t4 = time.perf_counter()
                timings.append([(b - a) * 1000 for a, b in ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t0, t4))])
            t = np.array(timings)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{result.chunks:>7}{np.median(t[:, 0]):>9.1f}ms{np.median(t[:, 1]):>10.1f}ms"
                f"{np.median(t[:, 2]):>9.1f}ms{np.median(t[:, 3]):>10.2f}ms{np.median(t[:, 4]):>9.1f}ms"
                f"{np.percentile(t[:, 4], 95):>9.1f}ms{peak:>10.0f}",
                flush=True,
            )
    matcher = "".join(f" --{key} {getattr(args, key)}" for key in ("ranker", "matcher") if getattr(args, key))
    print(f"\nreproduce: .venv/bin/python bench/latency.py --chunks {' '.join(map(str, args.chunks))}{matcher}")


if __name__ == "__main__":
    main()
