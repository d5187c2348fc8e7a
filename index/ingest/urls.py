"""Canonical URLs: one article, one address, whatever link led to it.

Written here rather than taken from courlan or w3lib: both rewrite the query (`?x=1;y=2`
becomes `?x=1%3By%3D2`, `?123` is dropped or becomes `?123=`), and a server may read those
as another page. Only what cannot change the page is changed.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Query parameters that say how a reader arrived, not what they read.
TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "_ga", "yclid", "ref_src"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_web_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _tracking(parameter: str) -> bool:
    key = unquote_plus(parameter.partition("=")[0]).lower()
    return key.startswith("utm_") or key in TRACKING


def _host(parts) -> str:
    host = (parts.hostname or "").lower()
    return f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no user name or password, no fragment, no
    tracking parameters (utm_* and the click ids), and "/" for an empty path. Everything else,
    the rest of the query above all, is kept as it was written. A URL that does not parse is
    returned as it is."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    netloc = _host(parts)
    if port is not None and DEFAULT_PORTS.get(scheme) != port:
        netloc += f":{port}"
    query = "&".join(p for p in parts.query.split("&") if p and not _tracking(p))
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def redact_url(url: str) -> str:
    """`url` without its user name and password: what may be printed and stored."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    netloc = _host(parts) + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
