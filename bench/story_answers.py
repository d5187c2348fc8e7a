""" "What happened with X" over the archive: does the first passage come from X's story, and
are the story's passages newest first?

The questions (bench/data/story_questions.jsonl, 15 events of bench/data/event_clusters.jsonl,
one English and one Arabic question each, written from the events' names) ask how an event
developed; the story rule was tuned on them. Their held-out twin
(bench/data/story_questions_heldout.jsonl, 20 other events, written before any tuning on it) is
printed beside them and never tuned on. A first passage counts when its article is one of the
event's, or of the event's or story's groups as built. Also printed: how many answers were
flagged as "no single story", and of those whose story was found, how many show that story's
passages newest first (by day, as the reader sees them).

    .venv/bin/python bench/story_answers.py   (build the archive first: bench/archive.py)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import persistent_config  # noqa: E402

from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402

QUESTIONS = {
    "tune": ROOT / "bench" / "data" / "story_questions.jsonl",
    "heldout": ROOT / "bench" / "data" / "story_questions_heldout.jsonl",
}
EVENTS = ROOT / "bench" / "data" / "event_clusters.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    with persistent_config(config, "archive") as archive_config:
        searcher = Searcher(archive_config, load_models(config))
    index = searcher.index
    row_of = {doc_id.split("#")[-1]: row for doc_id, row in index.doc_row.items()}
    events = {e["event"]: [row_of[a] for a in e["articles"] if a in row_of] for e in map(json.loads, EVENTS.open())}
    searcher.ask("warm up")
    took = []
    for half, path in QUESTIONS.items():
        results = defaultdict(list)
        for question in map(json.loads, path.open(encoding="utf-8")):
            gold = events[question["event"]]
            groups = {index.story_of.get(r) for r in gold} | {index.event_of.get(r) for r in gold}
            answer = searcher.ask(question["question"])
            first = index.doc_row[answer.passages[0].doc_id] if answer.passages else None
            found = first in gold or bool({index.story_of.get(first), index.event_of.get(first)} & groups - {None})
            story = answer.passages[0].story if answer.passages else None
            days = [(p.date or "")[:10] for p in answer.passages if p.story == story]  # as the reader sees them
            newest_first = days == sorted(days, reverse=True)
            results[question["lang"]].append((found, answer.no_single_story, newest_first))
            results["all"].append(results[question["lang"]][-1])
            took.append(answer.took_ms)
        print(f"{half:<8}{'n':>4}{'story first':>13}{'no single story':>17}{'newest first (found)':>22}")
        for lang, rows in results.items():
            found = [r for r in rows if r[0]]
            print(
                f"  {lang:<6}{len(rows):>4}{len(found) / len(rows):>13.2f}{sum(r[1] for r in rows) / len(rows):>17.2f}"
                f"{sum(r[2] for r in found) / max(1, len(found)):>22.2f}"
            )
    print(f"\nask, story questions: p50 {np.percentile(took, 50):.1f} ms, p95 {np.percentile(took, 95):.1f} ms")
    print("\nreproduce: .venv/bin/python bench/story_answers.py")


if __name__ == "__main__":
    main()
