"""Adding articles to a live archive: the index work besides embedding the new text, by archive
size, and what a search sees while an update runs.

For each archive size (the first N articles of ../shared/data/news_ar/articles.jsonl, built
once from the embedding cache) and batch size (new articles: XQuAD's Arabic paragraphs, never in
the archive), articles are added the way the running bot adds what its feeds bring: by its
background worker process (bot/polling.py), twice: the first time alone (the worker also loads
its models), the second time while this process asks a question every 0.25 s and switches to
each new build as the bot's watcher does. Reported, for the second addition:
- index seconds, of which the models ran (embedding the new text, marked so that no earlier run
  cached it), and the rest: the index work, which must stay small and not grow with the archive;
- busy seconds: its wall time as the bot sees it;
- search latency at rest (p50) and during it (p50, max, and how many searches took more than
  twice the resting p50), and how many searches failed;
and the first addition's index seconds (first s).

    .venv/bin/python bench/update.py [--sizes 1000 3000] [--batches 10 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import persistent_config  # noqa: E402

from bot.polling import BackgroundUpdater  # noqa: E402
from index.build import build_from_config  # noqa: E402
from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402

ARCHIVE = ROOT.parent / "shared" / "data" / "news_ar" / "articles.jsonl"
NEW = ROOT.parent / "shared" / "data" / "xquad" / "corpus.ar.jsonl"
QUESTIONS = ROOT / "bench" / "data" / "archive_questions.jsonl"
# A busy bot: a question every quarter second, around the clock (21,600 an hour). Searches back
# to back would leave the update, at the lowest priority, no CPU at all.
ASK_EVERY_SECONDS = 0.25


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def timed_ask(searcher: Searcher, question: str) -> float:
    began = time.perf_counter()
    searcher.ask(question)
    return (time.perf_counter() - began) * 1000


def trial(config, models, size: int, batch: int, questions: list[str]) -> dict:
    """Two additions of `batch` new articles to an archive of `size` by the bot's background
    worker: the first alone (it also loads the worker's models), the second while a question
    is asked every ASK_EVERY_SECONDS."""
    with persistent_config(config, f"update-{size}") as cfg:
        for stale in (cfg.index_dir, cfg.articles_path):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
        base = [json.loads(line) for line in ARCHIVE.read_text(encoding="utf-8").splitlines()[:size]]
        build_from_config(cfg, models, corpus=write_jsonl(cfg.data_dir / "base.jsonl", base), warn=lambda _: None)
        # Each run's new articles are new to the embedding cache too: every paragraph gets a mark.
        mark = f"[{time.time_ns() % 10**9}]"
        new_rows = [json.loads(line) for line in NEW.read_text(encoding="utf-8").splitlines()]
        for row in new_rows:
            row["id"] = f"{row['id']}-{mark}"
            row["text"] = "\n\n".join(f"{p} {mark}" for p in row["text"].split("\n\n"))
        alone = write_jsonl(cfg.data_dir / "alone.jsonl", new_rows[:batch])
        concurrent = write_jsonl(cfg.data_dir / "concurrent.jsonl", new_rows[batch : 2 * batch])
        raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        raw.update(data_dir=str(cfg.data_dir), seeds_dir=str(ROOT / "seeds"))
        config_path = cfg.data_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

        updater = BackgroundUpdater(config_path)
        try:
            first = asyncio.run(updater.run("add", [str(alone)]))["index"]
            searcher = Searcher(cfg, models)
            rest = [timed_ask(searcher, q) for q in questions]
            during, failures, done = [], [], threading.Event()

            def ask_in_a_loop():  # as the bot does: the watcher switches builds, users keep asking
                i = 0
                while not done.wait(ASK_EVERY_SECONDS):
                    try:
                        searcher.reload()
                        during.append(timed_ask(searcher, questions[i % len(questions)]))
                    except Exception as exc:  # a refused search is what this measures
                        failures.append(repr(exc))
                    i += 1

            asker = threading.Thread(target=ask_in_a_loop)
            asker.start()
            began = time.perf_counter()
            second = asyncio.run(updater.run("add", [str(concurrent)]))["index"]
            busy = time.perf_counter() - began
            done.set()
            asker.join()
        finally:
            updater.close()
        searcher.reload()
        p50 = statistics.median(rest)
        return {
            "size": size,
            "batch": batch,
            "index_s": second["seconds"],
            "model_s": second["model_seconds"],
            "other_s": second["seconds"] - second["model_seconds"],
            "first_s": first["seconds"],
            "busy_s": busy,
            "rest_p50": p50,
            "during_p50": statistics.median(during) if during else float("nan"),
            "during_max": max(during) if during else float("nan"),
            "over_2x": sum(t > 2 * p50 for t in during),
            "searches": len(during),
            "failed": len(failures),
            "documents": searcher.index.n_documents,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--questions", type=int, default=40, help="questions asked at rest")
    args = parser.parse_args()
    config = load_config(ROOT / "config.yaml")
    models = load_models(config)
    models.warm_up()
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows][: args.questions]
    results = [trial(config, models, size, batch, questions) for size in args.sizes for batch in args.batches]
    head = (
        f"{'archive':>8}{'added':>7}{'index s':>9}{'model s':>9}{'other s':>9}{'first s':>9}{'busy s':>8}"
        f"{'p50 rest':>10}{'p50 upd':>9}{'max upd':>9}{'>2x p50':>9}{'failed':>8}"
    )
    print(head)
    for r in results:
        print(
            f"{r['size']:>8}{r['batch']:>7}{r['index_s']:>9.2f}{r['model_s']:>9.2f}{r['other_s']:>9.2f}"
            f"{r['first_s']:>9.2f}{r['busy_s']:>8.1f}{r['rest_p50']:>10.1f}{r['during_p50']:>9.1f}{r['during_max']:>9.1f}"
            f"{r['over_2x']:>5}/{r['searches']:<3}{r['failed']:>8}"
        )
    print("\nsearch times in ms; 'other s' = index seconds - model seconds (the index work besides embedding)")
    print("reproduce: .venv/bin/python bench/update.py --sizes " + " ".join(map(str, args.sizes)))


if __name__ == "__main__":
    main()
