"""Output that never shows the bot token: httpx logs every request URL (which holds it), and
python-telegram-bot puts it in the message of InvalidToken."""

from __future__ import annotations

import io
import logging
import sys

from telegram.error import InvalidToken

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # the token's only source
REDACTED = "<token>"


def token_parts(token: str) -> list[str]:
    """The strings to hide, longest first: the token, its secret half, and the bot's id."""
    bot_id, _, secret = token.partition(":")
    parts = [token, secret] + ([bot_id] if len(bot_id) >= 6 else [])
    return sorted({p for p in parts if len(p) >= 6}, key=len, reverse=True)


def redact(text: str, parts: list[str]) -> str:
    for part in parts:
        text = text.replace(part, REDACTED)
    return text


def install_redaction(token: str):
    """Redact the token from every log record as it is created, whichever handler sees it.
    Returns the previous record factory (to restore it)."""
    previous = logging.getLogRecordFactory()
    parts = token_parts(token)

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if any(p in message for p in parts):
            record.msg, record.args = redact(message, parts), ()
        if record.exc_info and isinstance(record.exc_info[1], InvalidToken):
            # its traceback says no more than the message (and sanad-bot explains it next)
            record.exc_info = record.exc_text = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if any(p in text for p in parts):
                record.exc_info, record.exc_text = None, redact(text, parts)
        return record

    logging.setLogRecordFactory(factory)
    return previous


class RedactingStream(io.TextIOBase):
    """A text stream that hides the token in whatever is written through it: what the
    interpreter prints itself (an uncaught exception, a warning) passes no log filter."""

    def __init__(self, stream, parts: list[str]):
        self._stream, self._parts = stream, parts

    def write(self, s: str) -> int:
        self._stream.write(redact(s, self._parts))
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:  # for libraries that ask (faulthandler); what they write there is theirs
        return self._stream.fileno()

    @property
    def encoding(self):
        return self._stream.encoding


def setup_logging(token: str, level: int = logging.INFO) -> None:
    parts = token_parts(token)
    sys.stdout = RedactingStream(sys.stdout, parts)
    sys.stderr = RedactingStream(sys.stderr, parts)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level, stream=sys.stderr)
    install_redaction(token)
    # Request lines are noise at INFO (and carry the token in their URL).
    logging.getLogger("httpx").setLevel(logging.WARNING)
