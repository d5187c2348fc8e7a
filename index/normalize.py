"""Text normalisation: cleaning article text for storage, and telling a question's language."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Bidi controls and other invisible format characters that only confuse matching and display.
_INVISIBLE = re.compile(r"[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """NFC, Unix line ends, no control or bidi-override characters, single spaces, trimmed
    lines, at most one blank line in a row. This is the text spans refer to and that is shown."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROL.sub("", _INVISIBLE.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _is_arabic(ch: str) -> bool:
    return (
        "\u0600" <= ch <= "\u06ff"
        or "\u0750" <= ch <= "\u077f"
        or "\u08a0" <= ch <= "\u08ff"
        or ("\ufb50" <= ch <= "\ufdff")
        or ("\ufe70" <= ch <= "\ufeff")
    )


def detect_language(text: str) -> str:
    """'ar', 'en' or 'other', by which script most of the letters are in."""
    arabic = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if _is_arabic(ch):
            arabic += 1
        elif ch.isascii() or "\u00c0" <= ch <= "\u024f":
            latin += 1
        else:
            other += 1
    if arabic == latin == other == 0:
        return "other"
    if arabic >= latin and arabic >= other:
        return "ar"
    return "en" if latin >= other else "other"
