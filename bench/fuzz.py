"""The long fuzzing run: many hostile questions (hypothesis, fixed seed) through the search
and the reply formatting, in-process. Each must produce an answer or an abstention, and every
reply must be valid Telegram HTML within the length limit. (The test suite sends a shorter run
through the whole bot; see tests/test_fuzz.py.)

    .venv/bin/python bench/fuzz.py [--questions 10000]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.formatting import answer_messages  # noqa: E402
from index.config import load_config  # noqa: E402
from index.search import Searcher  # noqa: E402
from tests.test_formatting import check  # noqa: E402
from tests.test_fuzz import collect, questions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    searcher = Searcher(load_config(args.config))  # the index `sanad-index build` made
    inputs = collect(questions, args.questions)
    failures, answered, began = [], 0, time.perf_counter()
    for i, question in enumerate(inputs):
        try:
            answer = searcher.ask(question)
            for lang in ("ar", "en"):
                for message in answer_messages(answer, lang):
                    check(message)
            answered += answer.answered
        except Exception:  # the point: count anything that escapes, with its input
            failures.append((question[:80], traceback.format_exc(limit=3)))
        if (i + 1) % 1000 == 0:
            print(f"{i + 1} questions, {len(failures)} failures", flush=True)
    seconds = time.perf_counter() - began
    print(
        f"\n{len(inputs)} fuzzed questions in {seconds:.0f} s: {len(failures)} unhandled, {answered} answered, "
        f"{len(inputs) - answered} abstained; every reply valid Telegram HTML within 4096 UTF-16 units"
    )
    for question, trace in failures[:5]:
        print(f"\n{question!r}\n{trace}")
    print(f"\nreproduce: .venv/bin/python bench/fuzz.py --questions {args.questions}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
