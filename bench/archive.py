"""Retrieval in a news archive: the 3,000 Arabic articles of ../shared/data/news_ar plus seeds/,
asked the questions of bench/data/archive_questions.jsonl exactly as a user would (the
configured pipeline, the passages the bot would show).

Figures, by half (tune: what choices were made on; heldout: never tuned on; extra: 120 more
questions written later, mostly on details past the lead, never tuned on either) and language:
- passage hit@1 / hit@3 / MRR@10: the shown passage holds one of the question's evidence
  strings (copied verbatim from the article; compared with diacritics and the alef and hamza
  forms unified, as another outlet may spell the same words: «أسكي شهر», «اسكي شهر»), and the
  same letter for letter (the measure before spellings were unified);
- article@1: the first passage comes from the question's article;
- inside@1: hit@1 among the questions whose first passage is from their article (how well the
  passage is chosen inside the right article);
- answered: the share of these answerable questions that get passages at all;
- off-topic answered: the share of off-topic questions that get passages (lower is better):
  the 20 written for the archive, 80 more in off_topic_extra.jsonl, and XQuAD's test-half
  questions (Wikipedia topics: the Normans, prime numbers, the Rhine...), which no news
  article here was written to answer;
- the seed questions (tests/data/seed_questions.jsonl) asked of the archive and of seeds/
  alone: a passage from a gold paragraph first (hit@1) or in the top 3;
- the mean length of a shown passage, in characters, and the time from question to answer.

The archive's index is built once into .sanad/bench/archive (the embedding cache is shared
with the main data folder), and rebuilt only when the pipeline or articles change.

    .venv/bin/python bench/archive.py [--corpus ../shared/data/news_ar/articles.jsonl] [--show-misses] [--ranker off]
                                      [--matcher NAME] [--no-fold]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import persistent_config, with_search_settings  # noqa: E402

from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.lexical import spelled_alike  # noqa: E402
from index.normalize import clean_text  # noqa: E402
from index.search import Searcher  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "archive_questions.jsonl"
EXTRA_QUESTIONS = ROOT / "bench" / "data" / "archive_questions_extra.jsonl"
EXTRA_OFF_TOPIC = ROOT / "bench" / "data" / "off_topic_extra.jsonl"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"
K = 10


def judge(searcher: Searcher, questions: list[dict], is_hit) -> list[dict]:
    """Per question, asked as a user asks (time expressions included): the rank of the first
    passage that `is_hit`, whether it was answered, the first passage, and the shown passages'
    lengths."""
    results = []
    for row in questions:
        answer = searcher.ask(row["question"], k=K)
        passages = answer.passages
        results.append(
            {
                "row": row,
                "rank": first_hit(row, passages, is_hit),
                "answered": answer.answered,
                "first": passages[0] if passages else None,
                "passages": passages,
                "lengths": [len(p.text) for p in passages[: searcher.config.search.top_k]],
            }
        )
    return results


def first_hit(row: dict, passages, is_hit) -> int | None:
    """The rank of the first of `passages` that `is_hit` for the question `row`."""
    return next((p.rank for p in passages if is_hit(row, p)), None)


def figures(results: list[dict]) -> dict:
    n = len(results)
    ranks = [r["rank"] for r in results]
    right = [r for r in results if r["first"] and article_of(r["first"]) in gold_articles(r["row"])]
    return {
        "n": n,
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "mrr@10": sum(1 / r for r in ranks if r) / n,
        "article@1": len(right) / n,
        "inside@1": sum(r["rank"] == 1 for r in right) / max(1, len(right)),
        "answered": sum(r["answered"] for r in results) / n,
    }


def article_of(passage) -> str:
    return passage.doc_id.split("#")[-1]  # a corpus row's id, or a seeds/ file's name


def gold_articles(row: dict) -> list[str]:
    return row["gold"] if "gold" in row else [row["doc"]]


def holds_evidence(row: dict, passage) -> bool:
    return any(spelled_alike(clean_text(e)) in spelled_alike(passage.text) for e in row["evidence"])


def holds_evidence_verbatim(row: dict, passage) -> bool:
    return any(clean_text(e) in passage.text for e in row["evidence"])


def in_gold_paragraph(row: dict, passage) -> bool:
    return article_of(passage) in row["gold"] and passage.paragraph in row["paragraphs"]


def table(title: str, groups: dict[str, list[dict]]) -> None:
    print(f"\n{title}")
    print(f"{'':<16}{'n':>5}{'hit@1':>8}{'hit@3':>8}{'mrr@10':>8}{'article@1':>10}{'inside@1':>10}{'answered':>10}")
    for name, results in groups.items():
        f = figures(results)
        print(
            f"{name:<16}{f['n']:>5}{f['hit@1']:>8.3f}{f['hit@3']:>8.3f}{f['mrr@10']:>8.3f}"
            f"{f['article@1']:>10.3f}{f['inside@1']:>10.3f}{f['answered']:>10.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "news_ar" / "articles.jsonl")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--xquad", type=Path, default=ROOT.parent / "shared" / "data" / "xquad")
    parser.add_argument("--show-misses", action="store_true", help="print the questions whose first passage missed")
    parser.add_argument(
        "--ranker", choices=("default", "off"), help="search.ranker for this run (default: the config's)"
    )
    parser.add_argument("--matcher", help="search.matcher for this run (default: the config's), a CrossEncoder")
    parser.add_argument(
        "--no-fold", action="store_true", help="show every passage, even one restating another outlet's above it"
    )
    args = parser.parse_args()
    config = load_config(args.config)
    config = with_search_settings(config, args)
    models = load_models(config)
    sets = (QUESTIONS, EXTRA_QUESTIONS, EXTRA_OFF_TOPIC)
    rows = [json.loads(line) for path in sets for line in path.open(encoding="utf-8")]
    answerable = [r for r in rows if r["doc"]]
    off_topic = [r for r in rows if not r["doc"]]
    seed_rows = [json.loads(line) for line in SEED_QUESTIONS.open(encoding="utf-8")]

    began = time.perf_counter()
    documents = load_corpus(config.seeds_dir, args.corpus, warn=lambda _: None)
    with persistent_config(config, "archive") as archive_config:
        built = build_index(archive_config, models, documents, progress=sys.stderr.isatty())
        searcher = Searcher(archive_config, models)
    if args.no_fold:  # what folding costs: the same questions with no passage folded
        searcher._fold_repeats = lambda query, hits, index, upto: hits
    print(f"archive: {built.summary()} (this run: {time.perf_counter() - began:.0f} s)")

    results = judge(searcher, answerable, holds_evidence)
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        groups[f"{r['row']['half']} {r['row']['lang']}"].append(r)
        groups[r["row"]["half"]].append(r)
    groups["all"] = results
    table("questions naming their event (passage holds the evidence)", dict(sorted(groups.items())))
    verbatim = []
    for half in ("tune", "heldout", "extra", "all"):
        again = [dict(r, rank=first_hit(r["row"], r["passages"], holds_evidence_verbatim)) for r in groups[half]]
        f = figures(again)
        verbatim.append(f"{half} {f['hit@1']:.3f}/{f['hit@3']:.3f}")
    print("evidence letter for letter, hit@1/hit@3: " + ", ".join(verbatim))

    off = judge(searcher, off_topic, lambda row, p: False)
    by_half = defaultdict(list)
    for r in off:
        by_half[r["row"]["half"]].append(r["answered"])
    print(
        "\noff-topic questions answered (lower is better): "
        + ", ".join(f"{half} {sum(a) / len(a):.2f} of {len(a)}" for half, a in sorted(by_half.items()))
        + f", all {sum(r['answered'] for r in off) / len(off):.2f}"
    )

    xquad = {}
    for lang in ("ar", "en"):
        with open(args.xquad / f"queries.{lang}.test.jsonl", encoding="utf-8") as lines:
            asked = [searcher.ask(json.loads(line)["question"]).answered for line in lines]
        xquad[lang] = f"{lang} {sum(asked) / len(asked):.2f} of {len(asked)}"
    print(f"XQuAD test-half questions answered (lower is better): {', '.join(xquad.values())}")

    seeds_in_archive = judge(searcher, seed_rows, in_gold_paragraph)
    with persistent_config(config, "seeds") as seed_config:
        build_index(seed_config, models, load_corpus(config.seeds_dir, warn=lambda _: None))
        seeds_alone = judge(Searcher(seed_config, models), seed_rows, in_gold_paragraph)
    table(
        "seed questions (passage from a gold paragraph)",
        {"in the archive": seeds_in_archive, "seeds alone": seeds_alone},
    )

    lengths = [n for r in results for n in r["lengths"]]
    print(f"\nshown passages: {statistics.mean(lengths):.0f} characters on average ({len(lengths)} passages)")
    took = sorted(searcher.ask(row["question"]).took_ms for row in rows)  # one at a time, as the bot asks
    print(
        f"question -> answer over {searcher.index.n_chunks} chunks: p50 {took[len(took) // 2]:.1f} ms, "
        f"p95 {took[int(len(took) * 0.95)]:.1f} ms ({len(took)} questions)"
    )

    if args.show_misses:
        print("\nfirst passage missed:")
        for r in results:
            if r["rank"] != 1:
                first = r["first"]
                print(f"- [{r['row']['id']} rank {r['rank']}] {r['row']['question']}")
                if first:
                    print(f"    shown {first.doc_id.split('#')[-1]} ¶{first.paragraph}: {first.text[:160]}")
        for r in off:
            if r["answered"]:
                print(f"- [{r['row']['id']} answered] {r['row']['question']} -> {r['first'].text[:100]}")
    corpus = "" if args.corpus == parser.get_default("corpus") else f" --corpus {args.corpus}"
    matcher = "".join(f" --{key} {getattr(args, key)}" for key in ("ranker", "matcher") if getattr(args, key))
    fold = " --no-fold" if args.no_fold else ""
    print(f"\nreproduce: .venv/bin/python bench/archive.py{corpus}{matcher}{fold}")


if __name__ == "__main__":
    main()
