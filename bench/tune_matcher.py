"""How the matcher's two settings were chosen, on the tuning half only, and what they give on
the halves never tuned on.

- search.matcher_retrieval_weight: a passage's place is the matcher's logit for its sentence
  plus this weight times how far its article's best retrieval score trails the first
  article's (retrieval knows which article; the matcher knows which sentence). Chosen for
  the best hit@1 (then hit@3) on the archive's tune half.
- search.matcher_min_score: the least best logit that still answers. The highest that keeps
  every answerable question of the tune half answered, less a safety step (MARGIN), since
  the tune half is only 54 questions; off-topic questions (the tune half's 10, and XQuAD's
  train-half questions, which no news article answers) show what it refuses.

The matcher's logits are computed once per question; the settings are replayed over them.

    .venv/bin/python bench/tune_matcher.py [--matcher default]   (build the archive first: bench/archive.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import EXTRA_OFF_TOPIC, EXTRA_QUESTIONS, QUESTIONS, holds_evidence  # noqa: E402
from scratch import persistent_config  # noqa: E402

from index import matcher as matching  # noqa: E402
from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.normalize import clean_text  # noqa: E402
from index.search import MAX_QUESTION_CHARS, Searcher  # noqa: E402
from index.when import time_scope  # noqa: E402

WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
MARGIN = 1.0  # logits below the lowest answerable tune question's best that still answer


def replay(searcher: Searcher, rows: list[dict]) -> list[dict]:
    """Per question: the retrieval rule's verdict, the hits, the candidates and their logits."""
    index = searcher.index
    found = []
    for row in rows:
        asked = time_scope(clean_text(row["question"])[:MAX_QUESTION_CHARS]).text  # as ask() reads it
        [query] = searcher.queries([asked])
        hits = searcher.ranked(query, index, max(searcher.config.search.candidates, 10))
        docs = list(dict.fromkeys(h.doc for h in hits))[: len(matching.SENTENCES_PER_ARTICLE)]
        candidates = matching.candidates(index, hits, searcher._article_units(query, index, docs))
        texts = [index.documents[c.doc].text[c.start : c.end] for c in candidates]
        logits = searcher.matcher.scores(query.text, texts, np.array([c.cosine for c in candidates]))
        found.append(
            {
                "row": row,
                "query": query,
                "hits": hits,
                "rule": searcher.answered(query, hits, index),
                "candidates": candidates,
                "logits": logits,
            }
        )
    return found


def judged(searcher: Searcher, replays: list[dict], weight: float) -> dict:
    """hit@1 and hit@3 of the answerable questions with `weight`, and each one's best logit."""
    index, ranks, best = searcher.index, [], []
    for r in replays:
        matched = matching.rerank(index, r["hits"], r["candidates"], r["logits"], weight)
        passages = [searcher.passage(index, h, i, r["query"]) for i, h in enumerate(matched.hits[:3], 1)]
        ranks.append(next((p.rank for p in passages if holds_evidence(r["row"], p)), None))
        best.append(matched.best if r["rule"] else -np.inf)
    return {
        "hit@1": float(np.mean([k == 1 for k in ranks])),
        "hit@3": float(np.mean([k is not None for k in ranks])),
        "best": np.array(best),
    }


def refused(replays: list[dict], bar: float) -> float:
    """The share of off-topic questions that get the no-answer reply at `bar`."""
    return float(np.mean([not (r["rule"] and len(r["logits"]) and r["logits"].max() >= bar) for r in replays]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--matcher", default="default", help="the matcher to tune: default, or a CrossEncoder")
    args = parser.parse_args()
    config = load_config(args.config)
    config = dataclasses.replace(config, search=dataclasses.replace(config.search, matcher=args.matcher))
    with persistent_config(config, "archive") as archive_config:
        searcher = Searcher(archive_config, load_models(config))
    rows = [
        json.loads(line) for p in (QUESTIONS, EXTRA_QUESTIONS, EXTRA_OFF_TOPIC) for line in p.open(encoding="utf-8")
    ]
    halves = {half: [r for r in rows if r["half"] == half and r["doc"]] for half in ("tune", "heldout", "extra")}
    off = {half: [r for r in rows if r["half"] == half and not r["doc"]] for half in ("tune", "heldout", "extra")}
    titles = set(json.loads((args.xquad / "split.json").read_text(encoding="utf-8"))["train"])
    corpus_titles = {}
    for lang in ("ar", "en"):
        for line in (args.xquad / f"corpus.{lang}.jsonl").open(encoding="utf-8"):
            doc = json.loads(line)
            corpus_titles[doc["id"]] = doc["title"]
    xquad_train = [
        q
        for lang in ("ar", "en")
        for q in map(json.loads, (args.xquad / f"queries.{lang}.jsonl").open(encoding="utf-8"))
        if corpus_titles.get(q["gold"][0]) in titles
    ][::4]  # a quarter of them: enough to see the rate
    print(f"replaying {sum(map(len, halves.values()))} answerable, {len(xquad_train)} XQuAD train", file=sys.stderr)
    answerable = {half: replay(searcher, r) for half, r in halves.items()}
    offtopic = {half: replay(searcher, r) for half, r in off.items()}
    offtopic["xquad train"] = replay(searcher, xquad_train)

    print(f"{'weight':>8}" + "".join(f"{h + ' hit@1/@3':>22}" for h in answerable))
    choice = None
    for weight in WEIGHTS:
        figures = {half: judged(searcher, r, weight) for half, r in answerable.items()}
        print(f"{weight:>8g}" + "".join(f"{f['hit@1']:>14.3f} / {f['hit@3']:.3f}" for f in figures.values()))
        tune = figures["tune"]
        if choice is None or (tune["hit@1"], tune["hit@3"]) > (choice[1]["hit@1"], choice[1]["hit@3"]):
            choice = (weight, tune)
    weight, tune = choice
    kept = tune["best"][np.isfinite(tune["best"])]
    if not len(kept):
        sys.exit("tune_matcher: the retrieval rule answers no question of the tune half")
    print(
        f"\n{'bar':>8}"
        + "".join(f"{'answered ' + h:>18}" for h in answerable)
        + "".join(f"{'refused ' + h:>18}" for h in offtopic)
    )
    lines = {half: judged(searcher, r, weight)["best"] for half, r in answerable.items()}
    for b in np.arange(-6.0, 4.01, 1.0):
        print(
            f"{b:>8.1f}"
            + "".join(f"{np.mean(best >= b):>18.3f}" for best in lines.values())
            + "".join(f"{refused(r, b):>18.3f}" for r in offtopic.values())
        )
    bar = float(kept.min()) - MARGIN
    print(f"\nchosen on the tune half: matcher_retrieval_weight {weight:g}, matcher_min_score {bar:.2f}")
    for half, r in answerable.items():
        best = judged(searcher, r, weight)["best"]
        print(f"  answerable {half}: {np.mean(best >= bar):.3f} answered of {len(best)}")
    for half, r in offtopic.items():
        print(f"  off-topic {half}: {refused(r, bar):.3f} refused of {len(r)}")
    print("\nreproduce: .venv/bin/python bench/tune_matcher.py")


if __name__ == "__main__":
    main()
