"""How the fusion weights in config.yaml were chosen, reproducibly.

XQuAD's 48 articles are split in two halves (alternate titles in sorted order). Every
signal is computed once for every (question, chunk) pair of the four language pairs; a grid
of weights is scored by mean R@1 on the questions of the first half only, and the best is
reported on the second half, which played no part in choosing it.

    .venv/bin/python bench/tune_fusion.py [--xquad ../shared/data/xquad]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.build import _tables  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.lexical import tokens  # noqa: E402

PAIRS = [("ar", "ar"), ("ar", "en"), ("en", "ar"), ("en", "en")]  # (corpus, questions)
GRID = {
    "weight_sentence": [0, 0.25, 0.5, 0.75, 1.0],
    "weight_second_passage": [0, 0.1, 0.15, 0.25],
    "weight_second_sentence": [0, 0.1, 0.15, 0.25],
    "weight_lexical": [0, 0.05, 0.1, 0.15, 0.2],
}


def best_unit(unit_scores: np.ndarray, chunk_units: list[tuple[int, ...]]) -> np.ndarray:
    return np.stack([unit_scores[:, list(rows)].max(axis=1) for rows in chunk_units], axis=1)


def signals(config, models, corpus: Path, queries: list[dict]) -> dict:
    documents = load_corpus(corpus=corpus, warn=lambda _: None)
    tables, _, _ = _tables(config, models, documents, progress=False)
    texts = [q["question"] for q in queries]
    qv, qs = models.primary.embed_queries(texts), models.second.embed_queries(texts)
    lexical = np.stack([tables.lexical.scores(tokens(t)) for t in texts])
    lexical = lexical / np.maximum(lexical.max(axis=1, keepdims=True), 1e-9)
    doc_ids = [d.id.split("#", 1)[-1] for d in documents]
    return {
        "dense": qv @ tables.vectors.T,
        "sentence": best_unit(qv @ tables.sentence_vectors.T, tables.chunk_sentence_rows),
        "second": qs @ tables.second_vectors.T,
        "second_sentence": best_unit(qs @ tables.second_sentence_vectors.T, tables.chunk_sentence_rows),
        "lexical": lexical,
        "chunk_doc": np.array([doc_ids.index(c.doc_id.split("#", 1)[-1]) for c in tables.chunks]),
        "gold": np.array([doc_ids.index(q["gold"][0]) for q in queries]),
        "titles": [d.title for d in documents],
        # for the highlight study
        "tables": tables,
        "qv": qv,
        "qs": qs,
        "queries": queries,
    }


def doc_ranks(scores: np.ndarray, chunk_doc: np.ndarray, gold: np.ndarray) -> np.ndarray:
    n_docs = chunk_doc.max() + 1
    per_doc = np.full((scores.shape[0], n_docs), -np.inf)
    for d in range(n_docs):
        per_doc[:, d] = scores[:, chunk_doc == d].max(axis=1)
    gold_score = per_doc[np.arange(len(gold)), gold]
    return 1 + (per_doc > gold_score[:, None]).sum(axis=1)


def fused(sig: dict, w: dict, same_language: bool) -> np.ndarray:
    score = sig["dense"] + w["weight_sentence"] * sig["sentence"]
    score = score + w["weight_second_passage"] * sig["second"] + w["weight_second_sentence"] * sig["second_sentence"]
    return score + (w["weight_lexical"] * sig["lexical"] if same_language else 0)


def figures(ranks: np.ndarray) -> tuple[float, float, float]:
    return (ranks == 1).mean(), (ranks <= 5).mean(), np.where(ranks <= 10, 1 / ranks, 0).mean()


def highlight_rate(sig: dict, w: dict, same_language: bool, answers: list[str], how: str) -> float:
    """For the top chunk of each question, does the highlight hold the answer (in the passage's
    language)? `how` says which scores pick the unit, and with "sentence" the highlight is the
    whole sentence around the picked unit."""
    t, hits = sig["tables"], 0
    top_chunks = fused(sig, w, same_language).argmax(axis=1)
    for i, chunk in enumerate(top_chunks):
        rows = list(t.chunk_sentence_rows[chunk])
        doc = t.documents[sig["chunk_doc"][chunk]]
        spans = [t.sentence_spans[r] for r in rows]
        units = [doc.text[a:b] for a, b in spans]
        score = t.sentence_vectors[rows] @ sig["qv"][i]
        if "second" in how:
            score = score + t.second_sentence_vectors[rows] @ sig["qs"][i]
        if "lexical" in how and same_language:
            words = set(tokens(sig["queries"][i]["question"]))
            score = score + 0.3 * np.array([len(words & set(tokens(u))) for u in units]) / max(len(words), 1)
        a, b = spans[int(np.argmax(score))]
        if "sentence" in how:
            a, b = next((s, e) for s, e in t.chunks[chunk].sentences if s <= a and b <= e)
        hits += answers[i] in doc.text[a:b]
    return hits / len(top_chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    queries = {
        lang: [json.loads(line) for line in open(args.xquad / f"queries.{lang}.jsonl", encoding="utf-8")]
        for lang in ("ar", "en")
    }
    data = {(c, q): signals(config, models, args.xquad / f"corpus.{c}.jsonl", queries[q]) for c, q in PAIRS}
    titles = sorted(set(data[("ar", "ar")]["titles"]))
    tune_titles = set(titles[::2])
    for sig in data.values():
        sig["tune"] = np.array([sig["titles"][g] in tune_titles for g in sig["gold"]])

    results = []
    for values in itertools.product(*GRID.values()):
        w = dict(zip(GRID, values))
        ranks = {
            pair: doc_ranks(fused(sig, w, pair[0] == pair[1]), sig["chunk_doc"], sig["gold"])
            for pair, sig in data.items()
        }
        tune = np.mean([(ranks[p][data[p]["tune"]] == 1).mean() for p in PAIRS])
        results.append((tune, w, ranks))
    results.sort(key=lambda r: -r[0])
    best_tune, best, ranks = results[0]
    current = {k: getattr(config.search, k) for k in GRID}
    current_ranks = {
        pair: doc_ranks(fused(sig, current, pair[0] == pair[1]), sig["chunk_doc"], sig["gold"])
        for pair, sig in data.items()
    }
    dense_ranks = {pair: doc_ranks(sig["dense"], sig["chunk_doc"], sig["gold"]) for pair, sig in data.items()}

    print(f"best on the tuning half (mean R@1 {best_tune:.4f}): {best}")
    print(f"config.yaml now: {current}\n")
    print(f"{'pair':<8}{'weights':<10}{'half':<7}{'R@1':>7}{'R@5':>7}{'MRR@10':>8}")
    for pair in PAIRS:
        name = f"{pair[1]}->{pair[0]}"
        for label, r in (("dense", dense_ranks), ("best", ranks), ("config", current_ranks)):
            held_out = ~data[pair]["tune"]
            print(f"{name:<8}{label:<10}{'other':<7}" + "".join(f"{v:>7.3f}" for v in figures(r[pair][held_out])))
    print("\nhighlight rate (top chunk's chosen unit holds the answer), config weights:")
    for pair in PAIRS:
        answers = [q["answer"] for q in queries[pair[0]]]  # parallel files: the passage language's answer
        rates = {
            how: highlight_rate(data[pair], current, pair[0] == pair[1], answers, how)
            for how in ("model", "model+second", "model+lexical", "model+sentence", "model+lexical+sentence")
        }
        print(f"  {pair[1]}->{pair[0]}: " + "  ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    print(f"\nreproduce: .venv/bin/python bench/tune_fusion.py --xquad {args.xquad}")


if __name__ == "__main__":
    main()
