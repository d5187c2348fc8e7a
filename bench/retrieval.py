"""Retrieval quality on XQuAD for the four language pairs, with the configured pipeline.

For each pair it runs the same evaluation as `sanad-index eval` (a throw-away index of the
corpus, every question asked) and prints R@1, R@5, R@10, MRR@10 and the highlight rate:
how often the top passage's highlight holds the answer. XQuAD's files are parallel, so for
a question in one language the answer is taken in the passage's language.

    .venv/bin/python bench/retrieval.py [--xquad ../shared/data/xquad] [--half test]

`--half test` uses only the articles of the test half of split.json (the bars are set on it);
`--half train` only those of the train half, the one anything learned from XQuAD is fitted on.
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


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def _half(xquad: Path, half: str, folder: Path) -> tuple[dict[str, Path], dict[str, list[dict]]]:
    """The corpus file and the questions of each language for one half of split.json (the files
    of the test half ship with the data; the train half is the rest, written into `folder`)."""
    if half != "train":
        part = "" if half == "all" else f".{half}"
        return (
            {lang: xquad / f"corpus.{lang}{part}.jsonl" for lang in ("ar", "en")},
            {lang: _read(xquad / f"queries.{lang}{part}.jsonl") for lang in ("ar", "en")},
        )
    titles = set(json.loads((xquad / "split.json").read_text(encoding="utf-8"))["train"])
    corpus, rows = {}, {}
    for lang in ("ar", "en"):
        docs = [d for d in _read(xquad / f"corpus.{lang}.jsonl") if d["title"] in titles]
        ids = {d["id"] for d in docs}
        corpus[lang] = folder / f"corpus.{lang}.train.jsonl"
        corpus[lang].write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        rows[lang] = [q for q in _read(xquad / f"queries.{lang}.jsonl") if set(q["gold"]) & ids]
    return corpus, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--half", choices=["all", "train", "test"], default="all", help="all of XQuAD, or one half")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    halves = tempfile.TemporaryDirectory()  # the train half's files, deleted at exit
    corpus, rows = _half(args.xquad, args.half, Path(halves.name))
    print(f"{'pair':<8}{'n':>6}{'R@1':>8}{'R@5':>8}{'R@10':>8}{'MRR@10':>8}{'highlight':>10}{'seconds':>9}")
    for q, c in PAIRS:
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as queries:
            for row, parallel in zip(rows[q], rows[c]):
                queries.write(json.dumps(dict(row, answer=parallel["answer"]), ensure_ascii=False) + "\n")
            queries.flush()
            began = time.perf_counter()
            f = evaluate(config, models, corpus[c], Path(queries.name))
            seconds = time.perf_counter() - began
        print(
            f"{q}->{c:<5}{f['n']:>6}{f['recall@1']:>8.3f}{f['recall@5']:>8.3f}{f['recall@10']:>8.3f}"
            f"{f['mrr@10']:>8.3f}{f['highlight']:>10.3f}{seconds:>9.1f}",
            flush=True,
        )
    print(f"\nreproduce: .venv/bin/python bench/retrieval.py --xquad {args.xquad} --half {args.half}")


if __name__ == "__main__":
    main()
