"""`sanad-index`: build the index, take in articles from links, files and feeds, ask it
questions, evaluate retrieval."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sqlite3
import sys
import textwrap
from pathlib import Path

from .articles import ArticleStore, open_articles
from .build import BuildError, BuildResult, build_from_config
from .config import ConfigError, load_config
from .default_model import ModelSourceError
from .embed import EmbedderError, load_models
from .evaluate import EvalError, evaluate
from .ingest.pipeline import Summary, add_articles, remove_articles, update_archive
from .matcher import MatcherError
from .search import Answer, Searcher
from .store import IndexUnavailable

PROG = "sanad-index"


class UsageError(ValueError):
    """Bad command-line input."""


EXPECTED_ERRORS = (
    UsageError,
    ConfigError,
    BuildError,
    EmbedderError,
    EvalError,
    IndexUnavailable,
    ModelSourceError,
    MatcherError,
)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def cmd_build(args) -> int:
    config = load_config(args.config)
    result = build_from_config(
        config,
        load_models(config),
        seeds=args.seeds,
        corpus=args.corpus,
        force=args.force,
        progress=sys.stderr.isatty(),
        warn=_warn,
    )
    print(result.summary())
    return 0


def _report(args, summary: Summary, result: BuildResult | None) -> None:
    """One line for what happened to the articles, one for the index; or one JSON object."""
    if args.json:
        index = None
        if result is not None:
            index = {
                "documents": result.documents,
                "chunks": result.chunks,
                "embedded": result.embedded,
                "seconds": round(result.seconds, 3),
                "model_seconds": round(result.model_seconds, 3),
                "build": result.build,
            }
        print(json.dumps({**summary.to_dict(), "index": index}, ensure_ascii=False))
    else:
        print(summary.line())
        print(result.summary() if result is not None else "index unchanged")


def _change(args, change, targets: list[str], **options) -> int:
    """`add` or `remove`: exits 1 when one of the targets failed (the others are done)."""
    config = load_config(args.config)
    summary, result = change(config, load_models(config), targets, sys.stderr.isatty(), _warn, **options)
    _report(args, summary, result)
    return 1 if summary.failed else 0


def cmd_add(args) -> int:
    return _change(args, add_articles, args.targets, force=args.force)


def cmd_update(args) -> int:
    """Exits 0 with failures listed: a feed item that failed is tried again next time."""
    config = load_config(args.config)
    if not config.sources.feeds and not args.recheck:
        raise UsageError("no feeds to poll: list them under sources.feeds in the config")
    _report(args, *update_archive(config, load_models(config), args.recheck, sys.stderr.isatty(), _warn))
    return 0


def cmd_remove(args) -> int:
    return _change(args, remove_articles, args.keys)


def cmd_list(args) -> int:
    config = load_config(args.config)
    since = None
    if args.since is not None:
        try:
            since = datetime.date.fromisoformat(args.since).isoformat()
        except ValueError:
            raise UsageError(f"--since: not a date (YYYY-MM-DD): {args.since!r}") from None
    if args.failed:
        return _list_failed(config, args.json)
    with open_articles(config) as store:
        articles = store.articles(args.source, since)
    outlets = dict(config.sources.outlets)
    for article in articles:
        if args.json:
            print(json.dumps(article.summary(outlets), ensure_ascii=False))
        else:
            print(f"{article.id}\t{article.date or '-'}\t{article.source}\t{article.title}")
    if not args.json:
        print(f"{len(articles)} articles", file=sys.stderr)
    return 0


def _list_failed(config, as_json: bool) -> int:
    """The pages that failed: still to be tried again, or given up."""
    with open_articles(config) as store:
        failures = store.failures()
    limit = config.sources.max_attempts
    for f in failures:
        given_up = f.source != "link" and f.attempts >= limit
        if as_json:
            print(json.dumps({**f.to_dict(), "given_up": given_up}, ensure_ascii=False))
        else:
            state = "given up" if given_up else ("not retried" if f.source == "link" else f"next try {f.next_try}")
            print(f"{f.url}\t{f.attempts} tries\t{state}\t{f.reason}")
    if not as_json:
        print(f"{len(failures)} failed pages", file=sys.stderr)
    return 0


RULE = "─" * 72


def format_answer(answer: Answer) -> str:
    """The terminal rendering of what the bot would reply: the question it answers, then the
    passages (or that none answers it)."""
    head = f"❓ {answer.question}"
    if answer.period:
        head += f"\n   from articles dated {answer.period[0]} to {answer.period[1]}"
    if not answer.answered:
        return f"{head}\n\nNo passage in the articles answers this. Try other words, or ask about what /sources lists."
    blocks = [head]
    for p in answer.passages:
        cite = (
            f"[{p.rank}] {p.title} ¶{p.paragraph}" + (f" {p.date}" if p.date else "") + (f" {p.url}" if p.url else "")
        )
        body = textwrap.fill(p.text, width=100, initial_indent="    ", subsequent_indent="    ")
        blocks.append(f"{cite}  (score {p.score:.3f})\n{body}\n    » {p.highlight}")
    return "\n\n".join(blocks)


def _questions(args):
    if args.question is not None:
        yield args.question
        return
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("سؤال / question> ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and not line:
            return
        if line.strip():
            yield line.strip()


def cmd_ask(args) -> int:
    if args.question is not None and not args.question.strip():
        raise UsageError("the question is empty")
    config = load_config(args.config)
    searcher = Searcher(config)
    for number, question in enumerate(_questions(args)):
        answer = searcher.ask(question, k=args.k)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(("" if number == 0 else RULE + "\n") + format_answer(answer) + "\n", flush=True)
    return 0


def cmd_story(args) -> int:
    config = load_config(args.config)
    searcher = Searcher(dataclasses.replace(config, search=dataclasses.replace(config.search, matcher="off")))
    found = searcher.timeline(args.id)
    if found is None:
        raise UsageError(f"no article or story {args.id!r} in the index (`sanad-index list` shows the ids)")
    story, events = found
    if args.json:
        print(json.dumps({"story": story, "events": [e.to_dict() for e in events]}, ensure_ascii=False))
        return 0
    print(f"story {story}: {len(events)} events")
    for event in events:
        outlets = " · ".join(dict.fromkeys(a["outlet"] for a in event.articles if a["outlet"]))
        print(f"\n{(event.date or 'undated')[:10]}  {event.articles[0]['title']}  ({outlets or 'no outlet'})")
        for a in event.articles:
            print(f"    {a['doc_id']}\t{(a['date'] or '-')[:16]}\t{a['outlet'] or '-'}\t{a['url'] or ''}")
    return 0


def cmd_eval(args) -> int:
    config = load_config(args.config)
    result = evaluate(config, load_models(config), args.corpus, args.queries, k=args.k, progress=sys.stderr.isatty())
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    ranked = [c for c in result if c.startswith(("recall@", "mrr@"))]
    shown = ranked + [c for c in ("answered", "highlight", "paragraph@3") if c in result]
    print(f"{'queries':<10}{'n':>6}" + "".join(f"{c:>12}" for c in shown))
    for name, row in [("all", result), *result["by_lang"].items()]:
        print(f"{name:<10}{row['n']:>6}" + "".join(f"{row.get(c, float('nan')):>12.3f}" for c in shown))
    return 0


def cmd_migrate(args) -> int:
    config = load_config(args.config)
    if config.store.backend != "postgres":
        print("store.backend is embedded: no database to migrate")
        return 0
    from .store.postgres import MIGRATIONS, PostgresStore

    store = PostgresStore.from_config(config, migrate=False)
    try:
        applied = store.migrate()
    finally:
        store.close()
    latest = MIGRATIONS[-1][0]
    done = f"applied {', '.join(map(str, applied))}" if applied else "up to date"
    print(f"{store.where}: schema {latest} ({done})")
    if config.articles_path.exists():  # an archive kept by the embedded store moves over, once
        with ArticleStore(config.articles_path) as old, open_articles(config) as new:
            if old.count() and not new.count():
                moved = old.copy_into(new)
                print(f"took over {moved} articles from {config.articles_path}: run `sanad-index build` to index them")
    return 0


def build_parser() -> argparse.ArgumentParser:
    config_help = "config file (default: $SANAD_CONFIG or ./config.yaml)"
    # After the sub-command, --config is set only when given there, so that one given before it
    # stands; two separate options, since a default set on a shared one reaches both.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    parser = argparse.ArgumentParser(
        prog=PROG, description="Sanad's index: build it from the articles, ask it questions, measure it."
    )
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{build,add,update,remove,list,ask,story,eval,migrate}"
    )

    p = sub.add_parser(
        "build",
        parents=[common],
        help="take in the seeds folder and (re)build the index",
        description="Take the articles of the seeds folder (or --corpus) into the article store, "
        "replacing the ones an earlier build took in, and index the store: new and changed "
        "articles go into a new segment, removed ones leave the answers, an unchanged archive is "
        "left as it is. Articles from feeds, links and `add` stay. Only text not seen before is "
        "embedded. --force indexes everything again in one segment.",
    )
    p.add_argument("--seeds", type=Path, help="articles folder (default: seeds_dir from config)")
    p.add_argument(
        "--corpus",
        type=Path,
        help="a JSONL file of articles (id, title, text, url, date, lang); "
        "alone it replaces the seeds folder, with --seeds it adds to it",
    )
    p.add_argument("--force", action="store_true", help="index every article again, even when nothing changed")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "add",
        parents=[common],
        help="add articles from links or files, and index them now",
        description="Fetch each URL (the article's main text, title and date are extracted from "
        "the page) or read each file (txt, md, html, jsonl), store the articles and index them. "
        "An article already stored is replaced if it changed. Prints one line: new, changed, "
        "unchanged, failed (with the reason for each).",
    )
    p.add_argument("targets", nargs="+", metavar="URL|FILE", help="article pages or files")
    p.add_argument(
        "--force", action="store_true", help="take back articles that were removed (otherwise they are skipped)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser(
        "update",
        parents=[common],
        help="poll the feeds in the config and index what is new or changed",
        description="Poll every feed under sources.feeds (an unchanged feed costs one conditional "
        "request), fetch the items not stored yet or whose date moved on, retry the pages that "
        "failed before, and index the changes. Failures are listed and tried again next time.",
    )
    p.add_argument(
        "--recheck", action="store_true", help="fetch every stored page again (for sources that correct silently)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_update)

    p = sub.add_parser(
        "remove",
        parents=[common],
        help="remove articles from the store and the index",
        description="Remove articles by id (as `list` shows) or URL; they leave the answers at once. "
        "They stay removed: feeds and `add` skip them from then on (their URLs and their text are "
        "remembered), until `add --force` takes one back.",
    )
    p.add_argument("keys", nargs="+", metavar="ID|URL")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser(
        "list",
        parents=[common],
        help="list the stored articles",
        description="One line per stored article: id, date, source, title (tab-separated).",
    )
    p.add_argument("--source", help="only this source: seeds, file, link, or a feed's URL")
    p.add_argument("--since", metavar="DATE", help="only articles dated on or after DATE (YYYY-MM-DD)")
    p.add_argument(
        "--failed",
        action="store_true",
        help="list the pages that failed instead: url, tries, when next tried (or given up), why",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per article")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "ask",
        parents=[common],
        help="answer a question as the bot would",
        description="Answer a question exactly as the bot would. Without a question, reads one "
        "question a line from standard input (a prompt on a terminal).",
    )
    p.add_argument("question", nargs="?", help="the question, in Arabic or English")
    p.add_argument("-k", type=int, default=None, help="passages to show (default: search.top_k from config)")
    p.add_argument("--json", action="store_true", help="print one JSON object per question")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "story",
        parents=[common],
        help="how a story unfolded: its events in date order",
        description="The story an article belongs to (give its id, as `list` shows, or a story id as "
        "`ask --json` and `list --json` show): its events in date order, each with its date, its "
        "headline, and every article that reported it with its outlet, date and link. An event is "
        "the articles of one happening, across outlets; a story is the events that follow one another.",
    )
    p.add_argument("id", metavar="ID", help="an article id or a story id")
    p.add_argument("--json", action="store_true", help="print {story, events: [{event, date, articles}]}")
    p.set_defaults(func=cmd_story)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="measure retrieval on a labelled corpus",
        description="Build a throw-away index of CORPUS with the configured pipeline, ask every "
        "query, and report by query language: document-level Recall@1/5/10 and MRR@10; 'answered', the share "
        "of queries the abstention rule answers (ask off-topic queries of a corpus to measure abstention); "
        "'highlight', how often the top passage's highlight holds the query's 'answer'; and 'paragraph@3', "
        "answered with a gold paragraph (queries' 'paragraphs') among the top 3.",
    )
    p.add_argument(
        "--corpus", type=Path, required=True, help="corpus JSONL (id, title, text, lang) or an articles folder"
    )
    p.add_argument("--queries", type=Path, required=True, help="queries JSONL: id, question, lang, gold")
    p.add_argument("-k", type=int, default=10, help="rank cutoff (default 10)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "migrate",
        parents=[common],
        help="bring the PostgreSQL store's schema up to date",
        description="With store.backend: postgres, enable the pgvector extension and apply the schema "
        "steps the database lacks (each in its own transaction; any command applies them on first use "
        "too). Prints the schema version. The first time, it also takes over the articles, feeds and "
        "failed pages an embedded store kept in data_dir (then `sanad-index build` indexes them, "
        "from the embedding cache). Nothing to do for the embedded store.",
    )
    p.set_defaults(func=cmd_migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "k", None) is not None and args.k < 1:
        print(f"{PROG}: error: -k must be at least 1", file=sys.stderr)
        return 2
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader gone away is a broken pipe here, not at exit
        return code
    except EXPECTED_ERRORS as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`list | head`): nothing more to say to it
        _silence_stdout()
        return 0
    except OSError as exc:  # disk full, permissions: the current index is untouched
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}; the current index is unchanged", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # a database under the data folder is locked, full or damaged
        print(
            f"{PROG}: error: a database in the data folder failed ({exc}); the current index is unchanged",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the closed pipe too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
