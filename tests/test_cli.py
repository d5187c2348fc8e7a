"""The commands as a user runs them: separate processes, exit codes, stdout and stderr."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index.cli import RULE, build_parser
from tests.conftest import ROOT, write_config

QUESTIONS = ["من أين انطلقت الطائرات المسيرة؟", "Where were the drones launched from?"]


def run(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "index", *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=600
    )


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory, model_dir):
    return write_config(tmp_path_factory.mktemp("cli"))


def test_ask_before_any_build_says_to_build(cli_config):
    result = run("ask", "--config", str(cli_config), "hello?")
    assert result.returncode == 1
    assert "sanad-index build" in result.stderr and "Traceback" not in result.stderr


def test_build_then_rebuild_embeds_nothing(cli_config):
    first = run("build", "--config", str(cli_config))
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("built: 1 documents,") and " embedded," in first.stdout
    second = run("build", "--config", str(cli_config))
    assert second.returncode == 0 and "(0 embedded," in second.stdout
    forced = run("build", "--force", "--config", str(cli_config))
    assert forced.returncode == 0 and "(0 embedded," in forced.stdout


def test_ask_json_reads_questions_from_stdin_and_cites_the_launch_site(cli_config):
    result = run("ask", "--json", "--config", str(cli_config), stdin="\n".join(QUESTIONS) + "\n")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == QUESTIONS
    assert [a["lang"] for a in answers] == ["ar", "en"]
    for answer in answers:
        assert set(answer) == {"question", "lang", "answered", "passages", "took_ms"}
        assert answer["answered"]
        passage = next(p for p in answer["passages"] if "شمال شرقي بغداد" in p["text"])
        assert set(passage) == {
            "rank",
            "doc_id",
            "title",
            "url",
            "date",
            "paragraph",
            "start",
            "end",
            "text",
            "highlight",
            "score",
            "outlet",
            "event",
            "story",
            "also_reported_by",
        }
        assert passage["rank"] <= 3 and passage["paragraph"] == 13
        assert passage["also_reported_by"] == [] and passage["event"]  # the seed article: one outlet of its event


def test_ask_in_text_form_quotes_and_cites(cli_config):
    result = run("ask", "--config", str(cli_config), "-k", "1", QUESTIONS[0])
    assert result.returncode == 0
    question, cited = result.stdout.split("\n\n")[:2]
    assert question == f"❓ {QUESTIONS[0]}"
    assert cited.startswith("[1] 000_633aca95fbe32a42 ¶") and "»" in result.stdout


def test_the_terminal_prompt_reads_like_the_bot(cli_config):
    off_topic = "How do I reverse a linked list in Python?"
    result = run("ask", "--config", str(cli_config), "-k", "1", stdin=f"{QUESTIONS[1]}\n{off_topic}\n")
    first, second = result.stdout.split(RULE + "\n")
    assert first.startswith(f"❓ {QUESTIONS[1]}\n\n[1] ")
    assert second.startswith(f"❓ {off_topic}\n\nNo passage in the articles answers this.")


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", "   "], "question is empty"),
        (["ask", "--config", "/nonexistent/config.yaml", "q"], "config file not found"),
        (["build", "--seeds", "/nonexistent/seeds"], "seeds folder not found"),
        (["eval", "--corpus", "/nonexistent.jsonl", "--queries", "/nonexistent.jsonl"], "cannot read queries"),
    ],
)
def test_bad_input_is_one_line_and_a_nonzero_exit(cli_config, args, message):
    if "--config" not in args:
        args = [*args, "--config", str(cli_config)]
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help_explains_each_command():
    for command in ("build", "ask", "eval"):
        result = run(command, "--help")
        assert result.returncode == 0 and "--config" in result.stdout


def test_config_is_honoured_before_or_after_the_command():
    parser = build_parser()
    commands = [["build"], ["add", "a.html"], ["update"], ["remove", "ID"], ["list"], ["ask", "q"], ["story", "ID"]]
    commands += [["eval", "--corpus", "c.jsonl", "--queries", "q.jsonl"], ["migrate"]]
    for command in commands:
        assert parser.parse_args(["--config", "prod.yaml", *command]).config == Path("prod.yaml"), command
        assert parser.parse_args([*command, "--config", "prod.yaml"]).config == Path("prod.yaml"), command
        assert parser.parse_args(command).config is None, command


def test_eval_reports_recall_by_language(cli_config):
    data = ROOT / "tests" / "data" / "xquad_small"
    result = run(
        "eval",
        "--config",
        str(cli_config),
        "--corpus",
        str(data / "corpus.ar.jsonl"),
        "--queries",
        str(data / "queries.en.jsonl"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 24 and set(figures["by_lang"]) == {"en"}
    assert figures["recall@1"] <= figures["recall@5"] <= figures["recall@10"]
    assert figures["recall@5"] >= 0.8  # twelve passages: a working cross-lingual model finds nearly all
    corpus, queries = str(data / "corpus.ar.jsonl"), str(data / "queries.en.jsonl")
    table = run("eval", "--config", str(cli_config), "--corpus", corpus, "--queries", queries, "-k", "3")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[2:5] == ["recall@1", "recall@3", "mrr@3"]  # -k cuts the figures...
    cut = dict(zip(header.split()[1:], next(r for r in rows if r.startswith("en ")).split()[1:]))
    assert float(cut["recall@1"]) == round(figures["recall@1"], 3)  # ...and does not change them
    assert float(cut["recall@3"]) <= figures["recall@5"]


def test_the_bot_without_a_token_says_how_to_set_one():
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "BotFather" in result.stderr and "Traceback" not in result.stderr


def test_webhook_mode_without_a_url_is_a_config_error(tmp_path):
    config = write_config(tmp_path, bot={"mode": "webhook"})
    env = dict(os.environ, TELEGRAM_BOT_TOKEN="123:not-a-real-token")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1 and "bot.webhook_url" in result.stderr and "Traceback" not in result.stderr
    assert "not-a-real-token" not in result.stderr + result.stdout
