"""How long a follower waits: a real `sanad-bot` process (polling a local stand-in of the Bot API
over HTTP), a reader presses Follow under a passage, then `sanad-index add` in another process
adds an article of that event from another outlet, and later one about something else. Prints
the seconds from the add's start, and from the end of its process, to the push; and whether
exactly one push came, none for the unrelated article.

    .venv/bin/python bench/follow_push.py [--quiet-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from index.config import load_config  # noqa: E402
from tests.fake_telegram import BOT, FakeTelegram  # noqa: E402
from tests.test_bot import buttons  # noqa: E402
from tests.test_stories import ROWS  # noqa: E402

ROW = {r["id"]: r for r in ROWS}
USER = 1001
PUSH = "🔔 New"


def write_config(folder: Path, base_url: str) -> Path:
    """A config of its own data folder, sharing the converted model and the embedding cache."""
    real = load_config(ROOT / "config.yaml")
    data = folder / "data"
    (data / "cache").mkdir(parents=True)
    real.cache_path.parent.mkdir(parents=True, exist_ok=True)
    (data / "models").symlink_to(real.models_dir.resolve())
    (data / "cache" / "embeddings.sqlite").symlink_to(real.cache_path.resolve())
    (folder / "seeds").mkdir()
    raw = {"data_dir": str(data), "seeds_dir": str(folder / "seeds"), "bot": {"base_url": base_url}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def jsonl(folder: Path, name: str, ids: list[str]) -> Path:
    path = folder / name
    path.write_text("".join(json.dumps(ROW[i], ensure_ascii=False) + "\n" for i in ids), encoding="utf-8")
    return path


async def sanad_index(*args: str) -> float:
    """Run `sanad-index` in its own process; the seconds it took."""
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "index", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode:
        raise SystemExit(f"sanad-index {args[0]} failed: {err.decode()[-2000:]}")
    return time.monotonic() - began


def pushes(telegram: FakeTelegram) -> list:
    return [c for c in telegram.calls if c.method == "sendMessage" and c.params["text"].startswith(PUSH)]


async def run(quiet_seconds: float) -> None:
    telegram = FakeTelegram()
    base_url = await telegram.start()
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as tmp:
        folder = Path(tmp)
        config = write_config(folder, base_url)
        await sanad_index("build", "--config", str(config), "--corpus", str(jsonl(folder, "a.jsonl", ["bbc-dam"])))
        env = dict(os.environ, TELEGRAM_BOT_TOKEN=telegram.token)
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config), env=env, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            await telegram.wait_for("setMyCommands", count=2, timeout=300)
            telegram.send("How many villages did the Mosul Dam flood?", user_id=USER)
            [reply] = await telegram.wait_for("sendMessage", timeout=120)
            follow = next(b for b in buttons(reply) if b["callback_data"].startswith("follow:"))
            message = {"message_id": 99, "date": 0, "chat": {"id": USER, "type": "private"}, "from": BOT, "text": "x"}
            since = len(telegram.calls)
            telegram.press(message, follow["callback_data"], user_id=USER)
            await telegram.wait_for("sendMessage", since=since, timeout=60)

            began = time.monotonic()
            took = await sanad_index("add", "--config", str(config), str(jsonl(folder, "b.jsonl", ["f24-dam"])))
            [push] = await telegram.wait_for("sendMessage", where=lambda c: c in pushes(telegram), timeout=300)
            from_start, from_end = push.at - began, push.at - began - took
            await sanad_index("add", "--config", str(config), str(jsonl(folder, "c.jsonl", ["cinema"])))
            await asyncio.sleep(quiet_seconds)
            found = pushes(telegram)
        finally:
            bot.terminate()
            await bot.wait()
            await telegram.stop()
    print(f"push {from_start:.1f} s after `sanad-index add` began ({took:.1f} s), {from_end:.1f} s after it ended")
    cited = "france24.com/ar/dam" in found[0].params["text"]
    print(f"pushes: {len(found)} (1 expected); cites France 24's article: {cited}")
    print(f"none for the unrelated article within {quiet_seconds:.0f} s after its add: {len(found) == 1}")
    print("\nreproduce: .venv/bin/python bench/follow_push.py " + " ".join(sys.argv[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quiet-seconds", type=float, default=30, help="wait this long for a wrong push")
    args = parser.parse_args()
    asyncio.run(run(args.quiet_seconds))


if __name__ == "__main__":
    main()
