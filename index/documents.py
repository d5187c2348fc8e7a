"""Loading articles from seeds/ (txt, md, html, jsonl) into Documents.

A file that cannot be read or holds no text is reported through `warn` and skipped: one bad
file never stops a build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from .normalize import clean_text, detect_language, has_surrogates

SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
_TITLE_MAX_CHARS = 150
_SENTENCE_END = tuple(".!?؟؛…:")


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    url: str | None
    date: str | None
    lang: str
    text: str
    outlet: str | None = None  # who published it, when the source says (a JSONL field, a feed, a page)

    def to_dict(self) -> dict:
        return asdict(self)


Warn = Callable[[str], None]


def _looks_like_title(first: str, rest: str) -> bool:
    return bool(rest.strip()) and len(first) <= _TITLE_MAX_CHARS and not first.endswith(_SENTENCE_END)


def _split_title(text: str, fallback: str) -> tuple[str, str]:
    """A short first line without closing punctuation, followed by more text, is the title."""
    first, _, rest = text.partition("\n")
    if _looks_like_title(first, rest):
        return first.strip(), rest.strip()
    return fallback, text


def _markdown(text: str, fallback: str) -> tuple[str, str]:
    match = re.match(r"#\s+(.+)\n", text)
    if match:
        return match.group(1).strip(), text[match.end() :].strip()
    return _split_title(text, fallback)


# Elements that start a paragraph of their own; everything else flows inline into the
# paragraph around it. Text directly in a <div> counts as much as text in a <p>.
_BLOCKS = frozenset(
    "address article blockquote body caption dd details div dl dt fieldset figcaption figure h1 h2 h3 h4 h5 "
    "h6 hr li main ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_DROPPED = frozenset("script style noscript nav header footer aside form template iframe svg button select".split())


def _block_texts(root) -> list[str]:
    """The text of every paragraph under `root`, each exactly once: nested blocks
    (<blockquote><p>, <li><p>) give their own paragraphs, and text between them forms its own."""
    paragraphs: list[str] = []
    run: list[str] = []

    def flush() -> None:
        text = " ".join("".join(run).split())
        if text:
            paragraphs.append(text)
        run.clear()

    def walk(node) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                run.append(child.text(deep=False))
            elif tag in _DROPPED or tag.startswith(("-", "!")):
                continue
            elif tag == "br":
                flush()
            elif tag in _BLOCKS:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(root)
    flush()
    return paragraphs


def _html(raw: str, fallback: str) -> tuple[str, str]:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(raw)
    title_node = tree.css_first("title") or tree.css_first("h1")
    title = title_node.text(strip=True) if title_node else ""
    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    paragraphs = _block_texts(root) if root is not None else []
    body = "\n\n".join(p for p in paragraphs if p != title)
    return title or fallback, body


def _field(row: dict, key: str) -> str | None:
    """A row's optional field, cleaned like the text; None when missing or empty."""
    value = row.get(key)
    return None if value is None else clean_text(str(value)) or None


def _jsonl(path: Path, doc_id: str, warn: Warn) -> Iterator[Document]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                warn(f"{where}: not valid JSON ({exc.msg}); skipped")
                continue
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                warn(f"{where}: needs an object with a 'text' string; skipped")
                continue
            fields = [row.get(k) for k in ("id", "title", "text", "url", "date", "lang", "outlet")]
            if any(isinstance(v, str) and has_surrogates(v) for v in fields):
                warn(f"{where}: half of a character pair (a broken emoji?) removed")
            text = clean_text(row["text"])
            if not text:
                warn(f"{where}: empty text; skipped")
                continue
            row_id = _field(row, "id") or str(number)
            yield Document(
                id=f"{doc_id}#{row_id}",
                title=_field(row, "title") or row_id,
                url=_field(row, "url"),
                date=_field(row, "date"),
                lang=_field(row, "lang") or detect_language(text),
                text=text,
                outlet=_field(row, "outlet"),
            )


def load_file(path: Path, doc_id: str, warn: Warn) -> Iterator[Document]:
    """The documents in one file (a jsonl file holds many)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            yield from _jsonl(path, doc_id, warn)
            return
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        warn(f"{doc_id}: cannot read ({exc}); skipped")
        return
    fallback = path.stem
    if suffix in (".html", ".htm"):
        title, body = _html(raw, fallback)
    elif suffix == ".md":
        title, body = _markdown(clean_text(raw), fallback)
    else:
        title, body = _split_title(clean_text(raw), fallback)
    title, body = clean_text(title), clean_text(body)
    if not body:
        warn(f"{doc_id}: no text; skipped")
        return
    yield Document(id=doc_id, title=title, url=None, date=None, lang=detect_language(body), text=body)


def load_corpus(seeds_dir: Path | None = None, corpus: Path | None = None, warn: Warn = print) -> list[Document]:
    """All documents under `seeds_dir` (ids relative to it) and in a `corpus` jsonl file."""
    documents: list[Document] = []
    if seeds_dir is not None:
        if not seeds_dir.is_dir():
            raise FileNotFoundError(f"seeds folder not found: {seeds_dir}")
        for path in sorted(seeds_dir.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES and not path.name.startswith("."):
                documents.extend(load_file(path, path.relative_to(seeds_dir).as_posix(), warn))
    if corpus is not None:
        if not corpus.is_file():
            raise FileNotFoundError(f"corpus file not found: {corpus}")
        documents.extend(load_file(corpus, corpus.name, warn))
    seen: set[str] = set()
    unique = []
    for doc in documents:
        if doc.id in seen:
            warn(f"{doc.id}: duplicate document id; later copy skipped")
            continue
        seen.add(doc.id)
        unique.append(doc)
    return unique
