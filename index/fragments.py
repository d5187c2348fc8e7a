"""Links that open an article's page scrolled to the quoted sentence: a URL text fragment
(`#:~:text=[prefix-,]start[,end]`, WICG Scroll-to-Text-Fragment). The quote in the reply stays
the proof; the fragment is a convenience, and a browser without it opens the page as before."""

from __future__ import annotations

from urllib.parse import quote

EDGE_WORDS = 4  # words at each end of a long quote: enough to be unique, short enough to survive edits
WHOLE_MAX_WORDS = 8  # a quote this short is matched whole


def _encode(words: list[str]) -> str:
    # "-", "," and "&" mean something inside a text directive: they are percent-encoded too.
    return quote(" ".join(words), safe="").replace("-", "%2D")


def text_fragment(article: str, start: int, end: int) -> str | None:
    """The fragment directive (without "#") for article[start:end], or None for an empty span."""
    words = article[start:end].split()
    if not words:
        return None
    if len(words) <= WHOLE_MAX_WORDS:
        directive = _encode(words)
    else:
        directive = f"{_encode(words[:EDGE_WORDS])},{_encode(words[-EDGE_WORDS:])}"
    # A start that occurs earlier in the article would scroll there: name the words before it.
    head = " ".join(words[: min(len(words), EDGE_WORDS)])
    if head in " ".join(article[:start].split()) and article[:start].split():
        directive = f"{_encode(article[:start].split()[-3:])}-,{directive}"
    return ":~:text=" + directive


def link_to_quote(url: str, article: str, start: int, end: int) -> str:
    fragment = text_fragment(article, start, end)
    return f"{url.split('#', 1)[0]}#{fragment}" if fragment else url
