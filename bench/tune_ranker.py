"""How the sentence stage's two settings were chosen, on the tuning half only, and what they
give on the halves never tuned on.

- search.ranker_retrieval_weight: a passage's place is the ranker's score for its sentence
  plus this weight times how far its article's best retrieval score trails the first
  article's (retrieval knows which article; the ranker knows which sentence). The first
  passage is always the first article's best sentence, so the weight orders places 2 and 3:
  chosen for the best hit@1, then hit@3, on the archive's tune half.

The scores are computed once per question; the setting is replayed over them. Whether to
answer at all is the answerability model's (bench/train_answerable.py).

With --matcher NAME, the same for a CrossEncoder (search.matcher_retrieval_weight), and
search.matcher_min_score: the least best score that still answers, the highest that keeps
every answerable question of the tune half answered, less a safety step (MARGIN), since the
tune half is only 54 questions; off-topic questions (the tune half's 10, and XQuAD's
train-half questions, which no news article answers) show what it refuses.

    .venv/bin/python bench/tune_ranker.py [--matcher NAME]   (build the archive first: bench/archive.py)
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

WEIGHTS = (0.0, 5.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)  # search.ranker_retrieval_weight takes 0..1000
MARGIN = 1.0  # below the lowest answerable tune question's best logit, what still answers


def replay(searcher: Searcher, rows: list[dict]) -> list[dict]:
    """Per question: the retrieval rule's verdict, the hits, the candidates and their scores."""
    index = searcher.index
    found = []
    for row in rows:
        asked = time_scope(clean_text(row["question"])[:MAX_QUESTION_CHARS]).text  # as ask() reads it
        [query] = searcher.queries([asked])
        hits = searcher.ranked(query, index, max(searcher.config.search.candidates, 10))
        candidates, features, logits = searcher.sentence_scores(query, hits, index)
        found.append(
            {
                "row": row,
                "query": query,
                "hits": hits,
                "rule": searcher.answered(query, hits, index),
                "candidates": candidates,
                "features": features,
                "logits": logits,
            }
        )
    return found


def xquad_train_questions(xquad: Path) -> list[dict]:
    """XQuAD's questions on its train-half articles (split.json), both languages: Wikipedia
    topics (the Normans, prime numbers, the Rhine...) that no news article was written to answer."""
    titles = set(json.loads((xquad / "split.json").read_text(encoding="utf-8"))["train"])
    title_of = {}
    for lang in ("ar", "en"):
        for line in (xquad / f"corpus.{lang}.jsonl").open(encoding="utf-8"):
            doc = json.loads(line)
            title_of[doc["id"]] = doc["title"]
    return [
        q
        for lang in ("ar", "en")
        for q in map(json.loads, (xquad / f"queries.{lang}.jsonl").open(encoding="utf-8"))
        if title_of.get(q["gold"][0]) in titles
    ]


def judged(searcher: Searcher, replays: list[dict], weight: float) -> dict:
    """hit@1, hit@3 and article@1 of the answerable questions with `weight`, and each one's best score."""
    index, ranks, best, right = searcher.index, [], [], []
    for r in replays:
        matched = matching.rerank(index, r["hits"], r["candidates"], r["logits"], weight)
        passages = [searcher.passage(index, h, i, r["query"]) for i, h in enumerate(matched.hits[:3], 1)]
        ranks.append(next((p.rank for p in passages if holds_evidence(r["row"], p)), None))
        right.append(bool(passages) and passages[0].doc_id.split("#")[-1] == r["row"]["doc"])
        best.append(matched.best if r["rule"] else -np.inf)
    return {
        "hit@1": float(np.mean([k == 1 for k in ranks])),
        "hit@3": float(np.mean([k is not None for k in ranks])),
        "article@1": float(np.mean(right)),
        "best": np.array(best),
    }


def refused(replays: list[dict], bar: float) -> float:
    """The share of off-topic questions that get the no-answer reply at `bar`."""
    return float(np.mean([not (r["rule"] and len(r["logits"]) and r["logits"].max() >= bar) for r in replays]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--matcher", default="off", help="a CrossEncoder to tune instead of the ranker")
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
    xquad_train = xquad_train_questions(args.xquad)[::4]  # a quarter of them: enough to see the rate
    print(f"replaying {sum(map(len, halves.values()))} answerable, {len(xquad_train)} XQuAD train", file=sys.stderr)
    answerable = {half: replay(searcher, r) for half, r in halves.items()}

    print(f"{'weight':>8}" + "".join(f"{h + ' hit@1/@3/article@1':>30}" for h in answerable))
    tried = {}
    for weight in WEIGHTS:
        tried[weight] = figures = {half: judged(searcher, r, weight) for half, r in answerable.items()}
        print(
            f"{weight:>8g}"
            + "".join(f"{f['hit@1']:>14.3f} / {f['hit@3']:.3f} / {f['article@1']:.3f}" for f in figures.values())
        )
    choice = max(((w, f["tune"]) for w, f in tried.items()), key=lambda item: (item[1]["hit@1"], item[1]["hit@3"]))
    weight, tune = choice
    if args.matcher == "off":
        print(f"\nchosen on the tune half: ranker_retrieval_weight {weight:g}")
        print("\nreproduce: .venv/bin/python bench/tune_ranker.py")
        return
    offtopic = {half: replay(searcher, r) for half, r in off.items()}
    offtopic["xquad train"] = replay(searcher, xquad_train)
    kept = tune["best"][np.isfinite(tune["best"])]
    if not len(kept):
        sys.exit("tune_ranker: the retrieval rule answers no question of the tune half")
    print(
        f"\n{'bar':>8}"
        + "".join(f"{'answered ' + h:>18}" for h in answerable)
        + "".join(f"{'refused ' + h:>18}" for h in offtopic)
    )
    lines = {half: judged(searcher, r, weight)["best"] for half, r in answerable.items()}
    for b in np.linspace(float(kept.min()) - 1, float(np.median(kept)), 9):
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
    print(f"\nreproduce: .venv/bin/python bench/tune_ranker.py --matcher {args.matcher}")


if __name__ == "__main__":
    main()
