"""Logging that never shows the bot token (httpx logs every request URL, which holds it)."""

from __future__ import annotations

import logging

REDACTED = "<token>"


def install_redaction(token: str):
    """Redact `token` from every log record as it is created, whichever handler sees it.
    Returns the previous record factory (to restore it)."""
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if token in message:
            record.msg, record.args = message.replace(token, REDACTED), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if token in text:
                record.exc_info, record.exc_text = None, text.replace(token, REDACTED)
        return record

    logging.setLogRecordFactory(factory)
    return previous


def setup_logging(token: str, level: int = logging.INFO) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level)
    install_redaction(token)
    # Request lines are noise at INFO (and carry the token in their URL).
    logging.getLogger("httpx").setLevel(logging.WARNING)
