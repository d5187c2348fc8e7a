"""Calibrating when Sanad answers, and measuring both sides of it.

The index is built from seeds/. Off-topic questions are XQuAD's (none is about the seed
article); on-topic ones are tests/data/seed_questions.jsonl (25 Arabic, 25 English). The
threshold for each language relation (question and passage in the same language, or not) is
set at the 95th percentile of the off-topic questions' best semantic score, taken over the
questions of half of XQuAD's articles only; abstention is then reported on the other half.
The last rows are the whole decision as configured: those thresholds and the margins over
everyday requests (`search.min_margin`, calibrated by bench/margins.py).

    .venv/bin/python bench/abstention.py [--xquad ../shared/data/xquad]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_config  # noqa: E402

from index.build import build_from_config  # noqa: E402
from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402


def judged(searcher: Searcher, questions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best semantic score, and whether it gets passages as configured
    (thresholds and margins)."""
    index, best, answered = searcher.index, [], []
    for query in searcher.queries(questions):
        hits = searcher.ranked(query, index)
        best.append(max(h.semantic for h in hits))
        answered.append(searcher.answered(query, hits, index))
    return np.array(best), np.array(answered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--percentile", type=float, default=95.0)
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    with scratch_config(config) as config:
        build_from_config(config, models, warn=lambda _: None)
        searcher = Searcher(config, models)
        seed_lang = searcher.index.articles()[0].lang
        corpus_titles = {}
        for line in open(args.xquad / "corpus.en.jsonl", encoding="utf-8"):
            row = json.loads(line)
            corpus_titles[row["id"]] = row["title"]
        titles = sorted(set(corpus_titles.values()))
        tune = set(titles[::2])
        off, half, off_answered = {}, {}, {}
        for lang in ("ar", "en"):
            rows = [json.loads(line) for line in open(args.xquad / f"queries.{lang}.jsonl", encoding="utf-8")]
            off[lang], off_answered[lang] = judged(searcher, [r["question"] for r in rows])
            half[lang] = np.array([corpus_titles[r["gold"][0]] in tune for r in rows])
        seeds = [json.loads(line) for line in open(ROOT / "tests" / "data" / "seed_questions.jsonl", encoding="utf-8")]
        on, on_answered = {}, {}
        for lang in ("ar", "en"):
            on[lang], on_answered[lang] = judged(searcher, [r["question"] for r in seeds if r["lang"] == lang])

        print(
            f"seed index language: {seed_lang}; thresholds at the {args.percentile:g}th percentile of off-topic "
            "best scores on the tuning half of XQuAD"
        )
        thresholds = {}
        for lang in ("ar", "en"):
            relation = "same" if lang == seed_lang else "cross"
            thresholds[relation] = float(np.percentile(off[lang][half[lang]], args.percentile))
        print(f"calibrated: min_score {thresholds['same']:.3f}, min_score_cross_language {thresholds['cross']:.3f}")
        current = {"same": config.search.min_score, "cross": config.search.min_score_cross_language}
        print(f"config.yaml: min_score {current['same']:.3f}, min_score_cross_language {current['cross']:.3f}\n")
        print(f"{'questions':<12}{'threshold':<12}{'off-topic abstained (other half / all)':<40}{'seed answered':>14}")
        for lang in ("ar", "en"):
            relation = "same" if lang == seed_lang else "cross"
            for label, t in (("calibrated", thresholds[relation]), ("config", current[relation])):
                other = (off[lang][~half[lang]] < t).mean()
                every = (off[lang] < t).mean()
                print(f"{lang:<12}{label:<12}{other:>8.3f} / {every:.3f}{'':<25}{(on[lang] >= t).mean():>14.3f}")
        for lang in ("ar", "en"):
            abstained = ~off_answered[lang]
            other, every = abstained[~half[lang]].mean(), abstained.mean()
            print(f"{lang:<12}{'+ margins':<12}{other:>8.3f} / {every:.3f}{'':<25}{on_answered[lang].mean():>14.3f}")
        print(f"\nreproduce: .venv/bin/python bench/abstention.py --xquad {args.xquad}")


if __name__ == "__main__":
    main()
