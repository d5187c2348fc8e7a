"""Many people asking at once: N simulated users each send a question at the same moment to
the bot (the real python-telegram-bot stack, polling a local stand-in of the Bot API over
HTTP), and every question must be answered exactly once. Prints time to reply, p50/p95.

    .venv/bin/python bench/load.py [--users 50 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from scratch import scratch_config  # noqa: E402

from bot.app import build_application  # noqa: E402
from index.build import build_from_config  # noqa: E402
from index.config import load_config  # noqa: E402
from index.embed import load_models  # noqa: E402
from index.search import Searcher  # noqa: E402
from tests.fake_telegram import FakeTelegram  # noqa: E402


async def run(users: int, config, searcher, questions: list[str]) -> dict:
    fake = FakeTelegram()
    await fake.start()
    bot = dataclasses.replace(config.bot, base_url=fake.base_url, rate_limit_per_minute=1000)
    app = build_application(dataclasses.replace(config, bot=bot), fake.token, searcher)
    await app.initialize()
    await app.post_init(app)
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        await fake.wait_for("setMyCommands", count=2)
        began = time.monotonic()
        sent = {}
        for i in range(users):
            user = 10_000 + i
            fake.send(questions[i % len(questions)], user_id=user)
            sent[user] = time.monotonic()
        replies = await fake.wait_for("sendMessage", count=users, timeout=600)
        await asyncio.sleep(2.0)
        all_replies = [c for c in fake.calls if c.method == "sendMessage"]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.post_stop(app)
        await app.shutdown()
        await fake.stop()
    per_user = {}
    for call in all_replies:
        per_user.setdefault(call.params["chat_id"], []).append(call.at)
    latencies = [(per_user[u][0] - sent[u]) * 1000 for u in sent if u in per_user]
    return {
        "users": users,
        "answered": len(per_user),
        "duplicates": sum(len(v) - 1 for v in per_user.values()),
        "p50_ms": float(np.median(latencies)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "all_done_s": max(c.at for c in replies) - began,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    rows = [json.loads(line) for line in open(ROOT / "tests" / "data" / "seed_questions.jsonl", encoding="utf-8")]
    with scratch_config(config) as config:
        build_from_config(config, models, warn=lambda _: None)
        searcher = Searcher(config, models)
        print(f"{'users':>6}{'answered':>10}{'duplicates':>12}{'p50 ms':>9}{'p95 ms':>9}{'all done s':>12}")
        for users in args.users:
            r = asyncio.run(run(users, config, searcher, [row["question"] for row in rows]))
            print(
                f"{r['users']:>6}{r['answered']:>10}{r['duplicates']:>12}{r['p50_ms']:>9.0f}{r['p95_ms']:>9.0f}"
                f"{r['all_done_s']:>12.1f}",
                flush=True,
            )
    print(f"\nreproduce: .venv/bin/python bench/load.py --users {' '.join(map(str, args.users))}")


if __name__ == "__main__":
    main()
