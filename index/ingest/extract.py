"""An article page's main text, title, date and language (trafilatura, with htmldate where it
finds no date). A page that is not an article (an index page, a PDF, an image, too little text)
is refused with the reason."""

from __future__ import annotations

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from ..normalize import clean_text, detect_language

MIN_ARTICLE_CHARS = 200  # less main text than this is a teaser or an empty page, not an article
MAX_LINK_SHARE = 0.5  # an "article" whose lines are mostly link texts is an index page
HTML_TYPES = ("text/html", "application/xhtml+xml", "")


class NotAnArticle(Exception):
    """The page holds no article; the message says what it is instead."""


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str  # paragraphs separated by blank lines, cleaned
    date: str | None  # ISO 8601
    lang: str
    site: str | None = None  # the site's name, as the page gives it (og:site_name and the like)


def _decode(content: bytes, declared: str | None) -> str:
    """The declared charset if it decodes the page, else trafilatura's guess (UTF-8, then what
    charset detection finds: undeclared Arabic pages are often windows-1256)."""
    from trafilatura.utils import decode_file

    try:
        return content.decode(declared) if declared else decode_file(content)
    except (LookupError, UnicodeDecodeError):
        return decode_file(content)


def extract_article(content: bytes, url: str, content_type: str = "", charset: str | None = None) -> Extracted:
    import trafilatura
    from htmldate import find_date

    if content_type not in HTML_TYPES or content[:5] in (b"%PDF-",) or content[:4] in (b"\x89PNG", b"GIF8"):
        raise NotAnArticle(f"not a web page ({content_type or 'binary'})")
    html = _decode(content, charset)
    found = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False)
    lines = [clean_text(line) for line in (found.text or "").split("\n")] if found is not None else []
    lines = [line for line in lines if line]
    title = clean_text(found.title or "") or None if found is not None else None
    if lines and title and lines[0] == title:
        lines = lines[1:]  # the headline is the title, not the first paragraph
    text = "\n\n".join(lines)
    if len(text) < MIN_ARTICLE_CHARS:
        raise NotAnArticle(f"no article text found ({len(text)} characters)")
    links = {clean_text(a.text()) for a in LexborHTMLParser(html).css("a")}
    if sum(line in links for line in lines) > MAX_LINK_SHARE * len(lines):
        raise NotAnArticle("an index page (mostly links), not an article")
    date = (found.date if found is not None else None) or find_date(html, url=url, original_date=True)
    site = clean_text(found.sitename or "") or None if found is not None else None
    return Extracted(title, text, date, detect_language(text), site)
