"""Torch against onnxruntime (fp32 and int8) for the default model: speed and XQuAD R@1.

Speed: one question at a time (what `ask` does) and passages per second over XQuAD chunks
of about 100 tokens (what `build` does). Quality: R@1 of the whole pipeline on the four
language pairs. A backend may become the default only if no pair loses more than 0.01 R@1.

    .venv/bin/python bench/embedding_backends.py [--xquad ../shared/data/xquad] [--skip-quality]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.chunk import chunk_document  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import Models, load_embedder, load_models  # noqa: E402
from index.evaluate import evaluate  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
PAIRS = [("ar", "ar"), ("en", "en"), ("en", "ar"), ("ar", "en")]  # (questions, passages)


def speed(embedder, questions: list[str], chunks: list[str]) -> dict:
    embedder.warm_up()
    times = []
    for q in questions:
        began = time.perf_counter()
        embedder.embed_queries([q])
        times.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    embedder.embed_passages(chunks)
    return {
        "query_p50_ms": float(np.median(times)),
        "query_p95_ms": float(np.percentile(times, 95)),
        "passages_per_s": len(chunks) / (time.perf_counter() - began),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--skip-quality", action="store_true", help="speed only")
    args = parser.parse_args()
    base = load_config(args.config)
    questions = [json.loads(line)["question"] for line in open(args.xquad / "queries.en.jsonl", encoding="utf-8")]
    documents = load_corpus(corpus=args.xquad / "corpus.ar.jsonl", warn=lambda _: None)[:40]
    counter = load_embedder(base)
    chunks = [c.text for d in documents for c in chunk_document(d, 100, 0, counter.count_tokens)][:96]
    tokens = np.mean(counter.count_tokens(chunks))
    second = load_models(base).second
    rows = {}
    for backend in BACKENDS:
        config = dataclasses.replace(base, model=dataclasses.replace(base.model, backend=backend))
        embedder = load_embedder(config)
        rows[backend] = speed(embedder, questions[:100], chunks)
        if not args.skip_quality:
            for q, c in PAIRS:
                figures = evaluate(
                    config,
                    Models(embedder, second),
                    args.xquad / f"corpus.{c}.jsonl",
                    args.xquad / f"queries.{q}.jsonl",
                )
                rows[backend][f"{q}->{c}"] = figures["recall@1"]
        print(backend, json.dumps(rows[backend]), flush=True)
    print(f"\nchunks of {tokens:.0f} tokens on average; {len(chunks)} embedded per backend\n")
    header = f"{'backend':<11}{'query p50':>10}{'p95':>8}{'passages/s':>12}"
    if not args.skip_quality:
        header += "".join(f"{q + '->' + c:>9}" for q, c in PAIRS) + "  worst R@1 change"
    print(header)
    for backend, r in rows.items():
        line = f"{backend:<11}{r['query_p50_ms']:>8.1f}ms{r['query_p95_ms']:>6.1f}ms{r['passages_per_s']:>12.1f}"
        if not args.skip_quality:
            line += "".join(f"{r[f'{q}->{c}']:>9.3f}" for q, c in PAIRS)
            line += f"  {min(r[f'{q}->{c}'] - rows['torch'][f'{q}->{c}'] for q, c in PAIRS):+.3f}"
        print(line)
    print(f"\nreproduce: .venv/bin/python bench/embedding_backends.py --xquad {args.xquad}")


if __name__ == "__main__":
    main()
