"""Calibrating `search.min_margin`, the margin by which a passage must beat the question's
closeness to everyday requests (index/off_topic.py), and measuring both sides of it.

A question's margin is its best passage's semantic score minus its cosine to the closest
everyday request. Answerable questions, by question and passage language: XQuAD's train half
asked of its own articles (all four pairs); the tuning half of bench/data/archive_questions.jsonl
and the seed questions, asked of the news archive (and the seed questions of seeds/ alone). Each
pair's margin is the largest that keeps them answered: the lower of XQuAD's 1st percentile and
the least margin of the archive's and the seeds' questions. Reported beside it, never tuned on:
XQuAD's test half, the archive's held-out half, and the questions nothing in the archive answers
(its 20 off-topic ones, and XQuAD's test questions asked of the archive).

    .venv/bin/python bench/margins.py [--corpus ../shared/data/news_ar/articles.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import _half  # noqa: E402
from scratch import persistent_config, scratch_config  # noqa: E402

from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402

LANGS = ("ar", "en")


def margins(searcher: Searcher, questions: list[str]) -> np.ndarray:
    """Each question's best semantic score minus its closeness to everyday requests."""
    return np.array([max(h.semantic for h in searcher.ranked(q)) - q.off_topic for q in searcher.queries(questions)])


def share(values: np.ndarray, margin: float) -> str:
    return f"{(values >= margin).mean():.2f}" if len(values) else "  - "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "news_ar" / "articles.jsonl")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    empty = np.array([])
    xquad = {}  # (half, question language, passage language) -> margins
    with tempfile.TemporaryDirectory(prefix="sanad-margins-") as folder:
        for half in ("train", "test"):
            corpus, rows = _half(args.xquad, half, Path(folder))
            for passages in LANGS:
                with scratch_config(config) as scratch:
                    build_index(scratch, models, load_corpus(corpus=corpus[passages], warn=lambda _: None))
                    searcher = Searcher(scratch, models)
                    for lang in LANGS:
                        xquad[half, lang, passages] = margins(searcher, [r["question"] for r in rows[lang]])

    rows = [json.loads(line) for line in open(ROOT / "bench" / "data" / "archive_questions.jsonl", encoding="utf-8")]
    seeds = [json.loads(line) for line in open(ROOT / "tests" / "data" / "seed_questions.jsonl", encoding="utf-8")]
    with persistent_config(config, "archive") as archive_config:
        build_index(archive_config, models, load_corpus(config.seeds_dir, args.corpus, warn=lambda _: None))
        archive = Searcher(archive_config, models)
    with persistent_config(config, "seeds") as seed_config:
        build_index(seed_config, models, load_corpus(config.seeds_dir, warn=lambda _: None))
        alone = Searcher(seed_config, models)
    asked = {}  # (set, language) -> margins, all asked of Arabic articles
    for lang in LANGS:
        pick = [r for r in rows if r["lang"] == lang]
        for name, chosen in (
            ("tune", [r for r in pick if r["doc"] and r["half"] == "tune"]),
            ("heldout", [r for r in pick if r["doc"] and r["half"] == "heldout"]),
            ("off-topic", [r for r in pick if not r["doc"]]),
        ):
            asked[name, lang] = margins(archive, [r["question"] for r in chosen])
        seed_questions = [r["question"] for r in seeds if r["lang"] == lang]
        asked["seeds", lang] = np.concatenate([margins(archive, seed_questions), margins(alone, seed_questions)])
        with open(args.xquad / f"queries.{lang}.test.jsonl", encoding="utf-8") as lines:
            asked["xquad", lang] = margins(archive, [json.loads(line)["question"] for line in lines])

    configured = config.search.min_margin
    print("share answered at the configured margin; archive and seeds: Arabic articles only")
    print(
        f"{'pair':<8}{'margin':>8}{'calibrated':>11} | {'XQuAD train':>11}{'test':>6} | {'archive tune':>12}"
        f"{'seeds':>6}{'held-out':>9} | off-topic: {'archive':>7}{'XQuAD':>6}"
    )
    for lang in LANGS:
        for passages in LANGS:
            on_archive = passages == "ar"
            tuning = [np.percentile(xquad["train", lang, passages], 1)]
            if on_archive:
                tuning += [asked["tune", lang].min(), asked["seeds", lang].min()]
            calibrated = math.floor(min(tuning) * 1000) / 1000
            m = getattr(configured, f"{lang}_{passages}")
            a = {k: asked[k, lang] if on_archive else empty for k in ("tune", "seeds", "heldout", "off-topic", "xquad")}
            print(
                f"{lang}→{passages:<5}{m:>8.3f}{calibrated:>11.3f} | "
                f"{share(xquad['train', lang, passages], m):>11}{share(xquad['test', lang, passages], m):>6} | "
                f"{share(a['tune'], m):>12}{share(a['seeds'], m):>6}{share(a['heldout'], m):>9} | "
                f"{'':>11}{share(a['off-topic'], m):>7}{share(a['xquad'], m):>6}"
            )
    print("\nreproduce: .venv/bin/python bench/margins.py")


if __name__ == "__main__":
    main()
