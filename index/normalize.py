"""Text normalisation: cleaning article text for storage, and telling a text's language."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000\u2028]+")  # U+2028: a soft line break
_BLANK_LINES = re.compile(r"\n{3,}")
# Bidi controls and other invisible format characters that only confuse matching and display;
# U+061C (Arabic letter mark) is what phone keyboards insert after punctuation.
_INVISIBLE = re.compile(r"[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C1 controls: see _SEPARATORS
# A code point of a UTF-16 surrogate pair on its own (half an emoji from a truncated feed):
# it cannot be written as UTF-8 at all.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Arabic presentation forms (glyph shapes from PDF extracts): NFKC maps them to letters.
_PRESENTATION_FORMS = re.compile(r"[\ufb50-\ufdff\ufe70-\ufefc]+")


def _cp1252(code: int) -> str:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:
        return ""


# C1 controls are cp1252 punctuation decoded as Latin-1 (0x85 "…", 0x93 "“", 0x96 "–"): far
# more common in scraped text than their meaning as controls (U+0085 is "next line").
_SEPARATORS = str.maketrans({"\u2029": "\n\n", **{chr(c): _cp1252(c) for c in range(0x80, 0xA0)}})
# Persian yeh and keheh in Arabic text (Persian keyboards): the same letters to a reader.
_PERSIAN_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})


def has_surrogates(text: str) -> bool:
    return bool(_SURROGATE.search(text))


def clean_text(text: str) -> str:
    """NFC, presentation forms as letters, Unix line ends, no control, bidi-override or lone
    surrogate characters, single spaces, trimmed lines, at most one blank line in a row. This is
    the text spans refer to and that is shown."""
    text = _SURROGATE.sub("", text.replace("\r\n", "\n").replace("\r", "\n").translate(_SEPARATORS))
    text = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", _INVISIBLE.sub("", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def model_text(text: str) -> str:
    """What the embedding models read: letters written two ways made one."""
    return text.translate(_PERSIAN_LETTERS)


def _is_arabic(ch: str) -> bool:
    return (
        "\u0600" <= ch <= "\u06ff"
        or "\u0750" <= ch <= "\u077f"
        or "\u08a0" <= ch <= "\u08ff"
        or ("\ufb50" <= ch <= "\ufdff")
        or ("\ufe70" <= ch <= "\ufeff")
    )


def _is_latin(ch: str) -> bool:
    return ch.isascii() or "\u00c0" <= ch <= "\u024f"


def detect_language(text: str) -> str:
    """'ar', 'en' or 'other', by which script most of the letters are in."""
    arabic = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if _is_arabic(ch):
            arabic += 1
        elif _is_latin(ch):
            latin += 1
        else:
            other += 1
    if arabic == latin == other == 0:
        return "other"
    if arabic >= latin and arabic >= other:
        return "ar"
    return "en" if latin >= other else "other"


_WORD = re.compile(r"[^\W\d_]+")


def question_language(text: str) -> str:
    """The language a question is asked in. A question mixes scripts when it names someone in
    the other one («من هو Mohammed bin Salman؟», "What did محمد بن سلمان say?"): then its frame
    decides, the Arabic question mark or else the script of its first word, not the letter count."""
    lang = detect_language(text)
    words = _WORD.findall(text)
    has_arabic = any(_is_arabic(w[0]) for w in words)
    has_latin = any(_is_latin(w[0]) for w in words)
    if not (has_arabic and has_latin):
        return lang
    if "؟" in text:
        return "ar"
    return "ar" if _is_arabic(words[0][0]) else "en"
