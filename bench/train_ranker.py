"""The sentence ranker, learned from news questions (index/ranker.py; writes index/data/ranker.json).

Each question is given its own article (the "oracle article"), and the ranker orders the
article's candidate sentences, as the search does for the first article it finds: the ten
units closest to the question by the model's cosine, each read as its whole sentence unless
that is long, never a sentence that is itself a question. A candidate answers when it holds
part of one of the question's evidence strings.

The questions (by article, so no article is on both sides of a split):
- bench/data/archive_questions.jsonl: `tune` (learned from) and `heldout` (never learned or
  tuned on);
- bench/data/archive_questions_extra.jsonl: `extra`, learned from;
- ../shared/data/news_qa: 70% of its articles learned from, 30% (seeded) held out, each kind
  reported apart (`detail`: past the lead, `lead`: the first sentence answers).
Figures on the sets learned from are out-of-fold (five folds by article): each question is
scored by a model that never saw its article. The held-out sets are scored by the final model,
fitted on every set learned from. Lead questions weigh as much in all as detail questions (a
reader's first question about an event is often the lead's), whatever their counts.

    .venv/bin/python bench/train_ranker.py [--write] [--features a,b,...] [--drop name] [--ablate]
    (with no --drop, the features of the shipped model)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import ranker  # noqa: E402
from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.lexical import spelled_alike  # noqa: E402
from index.matcher import SENTENCES_PER_ARTICLE, article_candidates  # noqa: E402
from index.normalize import clean_text  # noqa: E402
from index.search import Searcher  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
ARCHIVE = SHARED / "news_ar" / "articles.jsonl"
SETS = (
    ROOT / "bench" / "data" / "archive_questions.jsonl",
    ROOT / "bench" / "data" / "archive_questions_extra.jsonl",
    SHARED / "news_qa" / "questions.jsonl",
)
SEED = 20261206
HELD_OUT_SHARE = 0.3
FOLDS = 5
QUOTA = SENTENCES_PER_ARTICLE[0]  # candidates, as from the first article a search finds
HELD_OUT = ("heldout", "news_qa heldout detail", "news_qa heldout lead")


def read_questions() -> list[dict]:
    rows = []
    for path in SETS:
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if row.get("doc"):
                rows.append(row)
    news_docs = sorted({r["doc"] for r in rows if "kind" in r})
    held = set(random.Random(SEED).sample(news_docs, round(HELD_OUT_SHARE * len(news_docs))))
    for row in rows:
        if "kind" in row:
            half = "news_qa heldout" if row["doc"] in held else "news_qa"
            row["set"] = f"{half} {row['kind']}"
        else:
            row["set"] = row["half"]
    return rows


def evidence_spans(text: str, evidence: list[str]) -> list[tuple[int, int]]:
    """Where each evidence string lies in `text` (spellings unified, which keeps lengths)."""
    folded = spelled_alike(text)
    spans = []
    for e in evidence:
        e = spelled_alike(clean_text(e))
        at = folded.find(e)
        if at >= 0:
            spans.append((at, at + len(e)))
    return spans


def examples(rows: list[dict], config) -> list[dict]:
    """Per question: its candidates' features, which of them answer, and their cosines."""
    models = load_models(config)
    wanted = {r["doc"] for r in rows}
    documents = [d for d in load_corpus(None, ARCHIVE, warn=lambda _: None) if d.id.split("#")[-1] in wanted]
    from scratch import persistent_config

    config = dataclasses.replace(config, search=dataclasses.replace(config.search, ranker="off"))  # it learns that
    with persistent_config(config, "ranker") as cfg:
        build_index(cfg, models, documents, progress=sys.stderr.isatty())
        searcher = Searcher(cfg, models)
    index = searcher.index
    row_of = {d.id.split("#")[-1]: index.doc_row[d.id] for d in documents}
    tables = index.unit_table(list(row_of.values()))
    queries = searcher.queries([r["question"] for r in rows])
    out = []
    for r, query in zip(rows, queries):
        doc = row_of[r["doc"]]
        d = index.documents[doc]
        article = ranker.Article(d.title, d.text, d.lang, tables[doc])
        cosines = tables[doc].vectors @ query.vector
        units = [(*map(int, span), float(c)) for span, c in zip(tables[doc].spans, cosines)]
        cands = article_candidates(d.text, units, QUOTA)
        gold = evidence_spans(d.text, r["evidence"])
        labels = [any(a < e_end and e_start < b for e_start, e_end in gold) for a, b in cands]
        question = ranker.Question.of(query.text, query.lang, query.vector, query.second_vector, query.words)
        X = ranker.features(question, article, cands)
        out.append({"row": r, "X": X, "y": np.array(labels, dtype=np.float32), "cosine": X[:, 0]})
    return out


def sentence_at_1(group: dict, scores: np.ndarray) -> float:
    return float(group["y"][int(np.argmax(scores))] > 0)


def fit(groups: list[dict], columns: list[int]):
    """A LightGBM lambdarank model over `columns`; lead questions weigh as much as detail ones,
    through repeats (lambdarank's row weights are not per question)."""
    import lightgbm

    repeated = [g for g in groups for _ in range(max(1, round(g["weight"])))]
    model = lightgbm.LGBMRanker(
        objective="lambdarank", n_estimators=200, learning_rate=0.05, num_leaves=7, min_child_samples=20,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=SEED, n_jobs=1, verbose=-1,
    )  # fmt: skip
    model.fit(
        np.concatenate([g["X"][:, columns] for g in repeated]),
        np.concatenate([g["y"] for g in repeated]),
        group=[len(g["y"]) for g in repeated],
    )
    return model


def weigh(groups: list[dict]) -> None:
    """Lead questions weigh, in all, as much as detail ones."""
    leads = sum(g["row"].get("kind") == "lead" for g in groups)
    details = len(groups) - leads
    for g in groups:
        g["weight"] = details / leads if g["row"].get("kind") == "lead" and leads else 1.0


def report(groups: list[dict], columns: list[int]) -> tuple[dict, object]:
    """sentence@1 by set: the cosine's, then the ranker's (out-of-fold where learned from)."""
    train = [g for g in groups if g["row"]["set"] not in HELD_OUT]
    weigh(train)
    articles = sorted({g["row"]["doc"] for g in train})
    random.Random(SEED).shuffle(articles)
    fold_of = {doc: i % FOLDS for i, doc in enumerate(articles)}
    scores: dict[int, np.ndarray] = {}
    for fold in range(FOLDS):
        model = fit([g for g in train if fold_of[g["row"]["doc"]] != fold], columns)
        for i, g in enumerate(groups):
            if g["row"]["set"] not in HELD_OUT and fold_of[g["row"]["doc"]] == fold:
                scores[i] = model.predict(g["X"][:, columns])
    final = fit(train, columns)
    for i, g in enumerate(groups):
        if g["row"]["set"] in HELD_OUT:
            scores[i] = final.predict(g["X"][:, columns])
    by_set = defaultdict(lambda: [[], []])
    for i, g in enumerate(groups):
        for name in (g["row"]["set"], f"{g['row']['set']} {g['row']['lang']}"):
            by_set[name][0].append(sentence_at_1(g, g["cosine"]))
            by_set[name][1].append(sentence_at_1(g, scores[i]))
    return {k: (len(v[0]), float(np.mean(v[0])), float(np.mean(v[1]))) for k, v in sorted(by_set.items())}, final


# Left out of the shipped model: --ablate showed the sets learned from doing better without each.
DROPPED = ("headline_words", "second_cosine", "time_asked_held")


def checksums() -> dict[str, str]:
    return {str(p.relative_to(ROOT.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in (*SETS, ARCHIVE)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--features", help="comma-separated features to use (default: all)")
    parser.add_argument(
        "--drop",
        action="append",
        help=f"leave out this feature (repeatable; default: {', '.join(DROPPED)}, as the shipped model)",
    )
    parser.add_argument("--ablate", action="store_true", help="report each feature left out in turn")
    parser.add_argument("--write", action="store_true", help=f"write the model to {ranker.WEIGHTS.relative_to(ROOT)}")
    args = parser.parse_args()
    config = load_config(args.config)
    rows = read_questions()
    groups = [g for g in examples(rows, config) if g["y"].any()]  # an answer outside the candidates teaches nothing
    print(f"{len(groups)} of {len(rows)} questions have their answer among the candidates")
    dropped = DROPPED if args.drop is None else args.drop
    names = args.features.split(",") if args.features else [n for n in ranker.FEATURES if n not in dropped]
    columns = [ranker.FEATURES.index(n) for n in names]
    figures, final = report(groups, columns)
    print(
        f"\nsentence@1 given the article (out-of-fold where learned from)\n{'':<30}{'n':>5}{'cosine':>8}{'ranker':>8}"
    )
    for name, (n, cosine, learned) in figures.items():
        print(f"{name:<30}{n:>5}{cosine:>8.3f}{learned:>8.3f}")
    if args.ablate:
        print(
            "\neach feature left out: mean sentence@1 over the sets learned from / held out\n"
            f"{'':<24}{'learned':>8}{'held':>8}"
        )
        for name in names:
            rest = [c for c in columns if c != ranker.FEATURES.index(name)]
            f, _ = report(groups, rest)
            learned = np.mean([v[2] for k, v in f.items() if k in ("tune", "extra", "news_qa detail", "news_qa lead")])
            held = np.mean([v[2] for k, v in f.items() if k in HELD_OUT])
            print(f"{name:<24}{learned:>8.3f}{held:>8.3f}")
    if args.write:
        model = {
            "features": names,
            "model": final.booster_.model_to_string(),
            "trained_on": "bench/train_ranker.py: tune, extra and news_qa's learned share",
            "seed": SEED,
            "data_sha256": checksums(),
        }
        ranker.WEIGHTS.parent.mkdir(exist_ok=True)
        ranker.WEIGHTS.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"written: {ranker.WEIGHTS.relative_to(ROOT)}")
    print("\nreproduce: .venv/bin/python bench/train_ranker.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
