"""Whether the best sentences found answer the question at all: a logistic model over
ranker.QUESTION_FEATURES (writes index/data/answerable.json) and its bar, search.min_answerability.

Each question is asked of the archive as a user asks it (bench/archive.py's index: retrieval,
then the sentence ranker over the candidates), and only those the retrieval rule answers (its
least score and margins apply first) are learned from or counted.
- learned from: answerable, the archive's `tune` half and news_qa's learned share (the split of
  bench/train_ranker.py); not answerable, the tune half's off-topic questions, the 80 of
  bench/data/off_topic_train.jsonl and half of XQuAD's train-half questions (Wikipedia topics
  no 2018 news article answers; --no-xquad leaves them out);
- held out: the archive's `heldout` and `extra` questions, news_qa's held-out share, and the
  off-topic questions of the held-out half and of off_topic_extra.jsonl (bench/archive.py
  adds XQuAD's test half). The sentence ranker learned from `extra`, `tune` and news_qa's
  learned share, so its scores on them are better than on unseen questions: the held-out
  share of news_qa and `heldout` are the fair answerable figures.
The bar is the highest that keeps KEEP of the learned answerable questions answered; each
class weighs the same in all, whatever its count.

    .venv/bin/python bench/train_answerable.py [--drop FEATURE] [--no-xquad] [--write]
    (build the archive first: bench/archive.py)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import EXTRA_OFF_TOPIC, QUESTIONS, SEED_QUESTIONS  # noqa: E402
from scratch import persistent_config  # noqa: E402
from train_ranker import SEED, checksums, read_questions  # noqa: E402
from tune_ranker import replay, xquad_train_questions  # noqa: E402

from index import ranker  # noqa: E402
from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402

KEEP = 0.97
LEARNED = ("tune", "news_qa detail", "news_qa lead", "off-topic tune", "off-topic train", "xquad train")
OFF_TOPIC_TRAIN = ROOT / "bench" / "data" / "off_topic_train.jsonl"
DROPPED = ("question_headline",)  # left out of the shipped model: the seed's headline is its file name


def features(r: dict) -> np.ndarray:
    """A replayed question's QUESTION_FEATURES, all of them."""
    return ranker.question_features(r["features"], r["logits"], r["hits"][0].semantic, r["query"].off_topic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument(
        "--drop", action="append", help=f"leave out this feature (repeatable; default: {', '.join(DROPPED)})"
    )
    parser.add_argument("--no-xquad", action="store_true", help="learn without XQuAD's questions as negatives")
    parser.add_argument("--write", action="store_true", help=f"write {ranker.ANSWERABLE.relative_to(ROOT)}")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    with persistent_config(config, "archive") as archive_config:
        searcher = Searcher(archive_config, models)
    with persistent_config(config, "seeds") as seed_config:
        build_index(seed_config, models, load_corpus(config.seeds_dir, warn=lambda _: None))
        seeds_alone = Searcher(seed_config, models)
    sets: dict[str, list[dict]] = defaultdict(list)
    for row in read_questions():
        sets[row["set"]].append(row)
    for path in (QUESTIONS, EXTRA_OFF_TOPIC, OFF_TOPIC_TRAIN):
        for row in map(json.loads, path.open(encoding="utf-8")):
            if not row["doc"]:
                sets[f"off-topic {row['half']}"].append(row)
    sets["xquad train"] = xquad_train_questions(args.xquad)[::2]
    print(f"asking {sum(map(len, sets.values()))} questions of the archive", file=sys.stderr)
    asked = {name: [r for r in replay(searcher, rows) if r["rule"] and len(r["logits"])] for name, rows in sets.items()}
    sets["seeds alone"] = [json.loads(line) for line in SEED_QUESTIONS.open(encoding="utf-8")]
    asked["seeds alone"] = [r for r in replay(seeds_alone, sets["seeds alone"]) if r["rule"] and len(r["logits"])]
    answers = {name: not name.startswith(("off-topic", "xquad")) for name in sets}
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    names = [n for n in ranker.QUESTION_FEATURES if n not in (DROPPED if args.drop is None else args.drop)]
    columns = [ranker.QUESTION_FEATURES.index(n) for n in names]
    learned = [name for name in LEARNED if not (args.no_xquad and name == "xquad train")]
    X = np.array([features(r)[columns] for name in learned for r in asked[name]])
    y = np.array([answers[name] for name in learned for r in asked[name]], dtype=float)
    scaler = StandardScaler().fit(X)
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000, random_state=SEED)
    model.fit(scaler.transform(X), y)
    saved = {
        "features": names,
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "weights": model.coef_[0].tolist(),
        "bias": float(model.intercept_[0]),
    }
    answerable = ranker.Answerability(names, *(np.array(saved[k]) for k in ("mean", "scale", "weights")), saved["bias"])
    p = {name: np.array([answerable.probability(features(r)) for r in rs]) for name, rs in asked.items()}
    kept = np.concatenate([p[name] for name in learned if answers[name]])
    bar = float(np.quantile(kept, 1 - KEEP))
    print(f"\n{'':<28}{'n':>5}{'asked':>7}  answered at bar {bar:.3f} (the rule's refusals count as refused)")
    for name in sorted(sets, key=lambda n: (n not in learned, n)):
        share = float(np.sum(p[name] >= bar)) / len(sets[name])
        side = "learned" if name in learned else "held out"
        print(f"{name:<28}{len(sets[name]):>5}{len(asked[name]):>7}  {share:.3f}  ({side})")
    shown = ["tune", "heldout", "extra", "seeds alone", "off-topic train", "off-topic heldout", "off-topic extra"]
    print(f"\n{'keep':>6}{'bar':>7}" + "".join(f"{n[:14]:>16}" for n in shown))
    for keep in (0.99, 0.98, 0.97, 0.95, 0.93, 0.90):
        b = float(np.quantile(kept, 1 - keep))
        print(f"{keep:>6.2f}{b:>7.3f}" + "".join(f"{np.sum(p[n] >= b) / len(sets[n]):>16.3f}" for n in shown))
    print("\nweights: " + ", ".join(f"{n} {w:+.2f}" for n, w in zip(names, saved["weights"])))
    print(f"chosen: search.min_answerability {bar:.3f}")
    if args.write:
        # the sentence ranker too: its scores are what this model reads
        read = (ranker.WEIGHTS, OFF_TOPIC_TRAIN, EXTRA_OFF_TOPIC, SEED_QUESTIONS, args.xquad / "split.json")
        read += tuple(args.xquad / f"queries.{lang}.jsonl" for lang in ("ar", "en"))
        digests = {str(p.resolve().relative_to(ROOT.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in read}
        saved.update(bar=bar, seed=SEED, data_sha256={**checksums(), **digests})
        ranker.ANSWERABLE.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
        print(f"written: {ranker.ANSWERABLE.relative_to(ROOT)}")
    print("\nreproduce: .venv/bin/python bench/train_answerable.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
