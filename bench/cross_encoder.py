"""A cross-encoder as a reranker, trained here: what it does to the archive's passages and what it
costs on this machine.

It is multilingual-e5-small's weights with a one-number head, fine-tuned to read a question and a
sentence together: on XQuAD's train half (split.json) only, each question (both languages) with
the sentence of its gold paragraph that holds the answer (in either language) against up to four
other sentences of that paragraph, one epoch. Then the passages the configured pipeline shows
(its first ten) are put in the order of their best sentence's score, for the questions of
bench/data/archive_questions.jsonl asked of the archive and the seed questions asked of seeds/
alone; hit@1 and hit@3 as in bench/archive.py (build the archive with it first).

    .venv/bin/python bench/cross_encoder.py [--steps N] [--model saved/folder]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import holds_evidence, in_gold_paragraph  # noqa: E402
from retrieval import _read  # noqa: E402
from scratch import persistent_config  # noqa: E402

from index.config import load_config  # noqa: E402
from index.default_model import MODEL_ID, ensure_default_model  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402
from index.split import sentence_spans  # noqa: E402

NEGATIVES = 4
GROUPS_PER_STEP = 4


def training_groups(xquad: Path) -> list[tuple[str, str, list[str]]]:
    """(question, answering sentence, other sentences of its paragraph), every language pair."""
    titles = set(json.loads((xquad / "split.json").read_text(encoding="utf-8"))["train"])
    corpus = {
        lang: {d["id"]: d["text"] for d in _read(xquad / f"corpus.{lang}.jsonl") if d["title"] in titles}
        for lang in ("ar", "en")
    }
    questions = {
        lang: {q["id"]: q for q in _read(xquad / f"queries.{lang}.jsonl") if q["gold"][0] in corpus[lang]}
        for lang in ("ar", "en")
    }
    random.seed(0)
    groups = []
    for asked in ("ar", "en"):
        for qid, q in questions[asked].items():
            for lang in ("ar", "en"):
                answer, text = questions[lang][qid]["answer"], corpus[lang][q["gold"][0]]
                sentences = [text[a:b] for a, b in sentence_spans(text)]
                holding = [s for s in sentences if answer in s]
                others = [s for s in sentences if answer not in s]
                if holding and len(others) >= 2:
                    groups.append((q["question"], holding[0], random.sample(others, min(NEGATIVES, len(others)))))
    random.shuffle(groups)
    return groups


def train(groups, base: Path, steps: int):
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    model.train()
    began = time.perf_counter()
    for step in range(steps):
        batch = groups[step * GROUPS_PER_STEP : (step + 1) * GROUPS_PER_STEP]
        pairs = [(q, s) for q, yes, no in batch for s in [yes, *no]]
        logits = score(model, tokenizer, pairs)
        loss, row = 0.0, 0
        for _, _, no in batch:  # the answering sentence comes first in its group
            loss = loss + torch.nn.functional.cross_entropy(logits[row : row + 1 + len(no)][None], torch.tensor([0]))
            row += 1 + len(no)
        (loss / len(batch)).backward()
        optimiser.step(), schedule.step(), optimiser.zero_grad()
        if step % 25 == 0:
            print(
                f"step {step}/{steps}: loss {loss.item() / len(batch):.3f}, {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
            )
    return model.eval(), tokenizer


def score(model, tokenizer, pairs: list[tuple[str, str]]) -> torch.Tensor:
    questions, sentences = zip(*pairs)
    batch = tokenizer(
        [f"query: {q}" for q in questions],
        [f"passage: {s}" for s in sentences],
        truncation=True,
        max_length=128,
        padding=True,
        return_tensors="pt",
    )
    return model(**batch).logits[:, 0]


def rerank(searcher: Searcher, model, tokenizer, rows: list[dict], is_hit) -> dict:
    shown, reranked, took = [], [], []
    for row in rows:
        passages = searcher.ask(row["question"], k=10).passages
        began = time.perf_counter()
        with torch.inference_mode():
            best = [
                float(
                    score(
                        model,
                        tokenizer,
                        [(row["question"], p.text[a:b]) for a, b in sentence_spans(p.text)]
                        or [(row["question"], p.text)],
                    ).max()
                )
                for p in passages
            ]
        took.append(time.perf_counter() - began)
        hits = [is_hit(row, p) for p in passages]
        shown.append(hits)
        reranked.append([hits[i] for i in np.argsort(best, kind="stable")[::-1]])
    figures = {}
    for name, runs in (("pipeline", shown), ("reranked", reranked)):
        figures[name] = (np.mean([h[:1] == [True] for h in runs]), np.mean([any(h[:3]) for h in runs]))
    figures["ms"] = 1000 * float(np.median(took))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--steps", type=int, default=0, help="training steps (default: one epoch)")
    parser.add_argument("--model", type=Path, help="a cross-encoder saved by an earlier run: no training")
    parser.add_argument("--save", type=Path, help="keep the trained cross-encoder here")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(args.config)
    if args.model:
        model, tokenizer = (
            AutoModelForSequenceClassification.from_pretrained(args.model).eval(),
            AutoTokenizer.from_pretrained(args.model),
        )
    else:
        groups = training_groups(args.xquad)
        steps = args.steps or len(groups) // GROUPS_PER_STEP
        print(f"{len(groups)} training groups, {steps} steps from {MODEL_ID}", file=sys.stderr)
        model, tokenizer = train(groups, ensure_default_model(config.models_dir), steps)
        if args.save:
            model.save_pretrained(args.save), tokenizer.save_pretrained(args.save)
    models = load_models(config)
    archive_rows = [r for r in _read(ROOT / "bench" / "data" / "archive_questions.jsonl") if r["doc"]]
    seed_rows = _read(ROOT / "tests" / "data" / "seed_questions.jsonl")
    with persistent_config(config, "archive") as archive_config:
        archive = Searcher(archive_config, models)
    with persistent_config(config, "seeds") as seed_config:
        alone = Searcher(seed_config, models)
    print(f"{'questions':<24}{'pipeline hit@1/@3':>18}{'reranked hit@1/@3':>19}{'rerank p50':>12}")
    for label, searcher, rows, is_hit in (
        ("archive, tune half", archive, [r for r in archive_rows if r["half"] == "tune"], holds_evidence),
        ("archive, held-out half", archive, [r for r in archive_rows if r["half"] == "heldout"], holds_evidence),
        ("seed questions, alone", alone, seed_rows, in_gold_paragraph),
    ):
        f = rerank(searcher, model, tokenizer, rows, is_hit)
        print(
            f"{label:<24}{f['pipeline'][0]:>10.3f} / {f['pipeline'][1]:.3f}"
            f"{f['reranked'][0]:>11.3f} / {f['reranked'][1]:.3f}{f['ms']:>9.0f} ms"
        )
    print("\nreproduce: .venv/bin/python bench/cross_encoder.py")


if __name__ == "__main__":
    main()
