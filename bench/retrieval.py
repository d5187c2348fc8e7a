"""Retrieval quality on XQuAD for the four language pairs, with the configured pipeline.

For each pair it runs the same evaluation as `sanad-index eval` (a throw-away index of the
corpus, every question asked) and prints R@1, R@5, R@10, MRR@10 and the highlight rate:
how often the top passage's highlight holds the answer. XQuAD's files are parallel, so for
a question in one language the answer is taken in the passage's language.

    .venv/bin/python bench/retrieval.py [--xquad ../shared/data/xquad] [--half test]

`--half test` uses only the articles of the test half of split.json (the bars are set on it;
anything learned from XQuAD is fitted on the train half).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.evaluate import evaluate  # noqa: E402

PAIRS = [("ar", "ar"), ("en", "en"), ("en", "ar"), ("ar", "en")]  # (questions, passages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--half", choices=["all", "test"], default="all", help="all of XQuAD, or its test half")
    args = parser.parse_args()
    part = "" if args.half == "all" else f".{args.half}"
    config = load_config(args.config)
    models = load_models(config)
    rows = {
        lang: [json.loads(line) for line in open(args.xquad / f"queries.{lang}{part}.jsonl", encoding="utf-8")]
        for lang in ("ar", "en")
    }
    print(f"{'pair':<8}{'n':>6}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MRR@10':>8}{'highlight':>10}{'seconds':>9}")
    for q, c in PAIRS:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as queries:
            for row, parallel in zip(rows[q], rows[c]):
                queries.write(json.dumps(dict(row, answer=parallel["answer"]), ensure_ascii=False) + "\n")
            queries.flush()
            began = time.perf_counter()
            f = evaluate(config, models, args.xquad / f"corpus.{c}{part}.jsonl", Path(queries.name))
            seconds = time.perf_counter() - began
        print(
            f"{q}->{c:<5}{f['n']:>6}{f['recall@1']:>8.3f}{f['recall@5']:>8.3f}{f['recall@10']:>8.3f}"
            f"{f['mrr@10']:>8.3f}{f['highlight']:>10.3f}{seconds:>9.1f}",
            flush=True,
        )
    print(f"\nreproduce: .venv/bin/python bench/retrieval.py --xquad {args.xquad} --half {args.half}")


if __name__ == "__main__":
    main()
