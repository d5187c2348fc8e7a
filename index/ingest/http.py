"""The one HTTP client of ingestion: only public hosts unless configured otherwise (every hop
checked where it connects: addresses.py), only http and https, a timeout on every step and on
the whole response, a size cap, redirects followed within a limit, a User-Agent naming Sanad,
and retries with backoff on 429 and 5xx (honouring Retry-After)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpcore
import httpx

from .addresses import AddressRefused, PublicOnly
from .urls import is_web_url

USER_AGENT = "Sanad/0.1 (news question answering; +https://github.com/sanad)"
MAX_REDIRECTS = 5
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 60.0  # seconds: a longer wait is left to the next update


class FetchError(Exception):
    """A page or feed that could not be fetched; the message is the reason, in a few words."""


@dataclass(frozen=True)
class Response:
    status: int  # 200, or 304 for a conditional GET that found nothing new
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    url: str = ""  # where the content came from, after redirects

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset":
                return value.strip(" \"'") or None
        return None


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return default


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that reaches only public addresses."""

    def __init__(self):
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=PublicOnly())


class Fetcher:
    """`allow_private`: reach loopback, private and link-local hosts too (an intranet, a test
    server); off by default. Proxy variables of the environment are not used: a proxy would
    make the connections the address check cannot see."""

    def __init__(
        self,
        timeout: float = 20.0,
        max_bytes: int = 10 << 20,
        retries: int = 2,
        backoff: float = 2.0,
        allow_private: bool = False,
    ):
        self.timeout, self.max_bytes, self.retries, self.backoff = timeout, max_bytes, retries, backoff
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT},
            transport=None if allow_private else _Transport(),
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def get(
        self, url: str, etag: str | None = None, modified: str | None = None, retries: int | None = None
    ) -> Response:
        """GET `url`; with `etag` / `modified`, a conditional GET (a 304 is returned, not raised).
        Raises FetchError with the reason when it cannot be had. `retries` overrides the
        client's for this call."""
        if not is_web_url(url):
            raise FetchError("not an http(s) URL")
        retries = self.retries if retries is None else retries
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        for attempt in range(retries + 1):
            wait = self.backoff * 2**attempt
            try:
                response = self._once(url, headers)
            except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                if attempt == retries:
                    raise FetchError(f"cannot connect ({type(exc).__name__})") from None
                time.sleep(wait)
                continue
            if response.status in RETRY_STATUSES and attempt < retries:
                delay = _retry_after(response.headers.get("retry-after"), wait)
                if delay > MAX_RETRY_AFTER:
                    raise FetchError(f"HTTP {response.status}, retry after {delay:.0f} s")
                time.sleep(delay)
                continue
            if response.status == 304 or 200 <= response.status < 300:
                return response
            raise FetchError(f"HTTP {response.status}")
        raise AssertionError("unreachable")

    def _once(self, url: str, headers: dict) -> Response:
        deadline = time.monotonic() + 3 * self.timeout  # a server trickling bytes still ends
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"larger than {self.max_bytes / (1 << 20):g} MB")
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes / (1 << 20):g} MB")
                    if time.monotonic() > deadline:
                        raise FetchError(f"too slow (over {3 * self.timeout:.0f} s)")
                    chunks.append(chunk)
                headers = {k.lower(): v for k, v in r.headers.items()}
                return Response(r.status_code, b"".join(chunks), headers, str(r.url))
        except AddressRefused as exc:
            raise FetchError(str(exc)) from None
        except httpx.TooManyRedirects:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects (a redirect loop?)") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:.0f} s") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL ({exc})") from None
        except httpx.DecodingError:
            raise FetchError("the response could not be decoded") from None
        except (httpx.ConnectError, httpx.RemoteProtocolError):
            raise  # retried by `get`
        except httpx.UnsupportedProtocol:
            raise FetchError("redirected to a URL that is not http(s)") from None
        except httpx.HTTPError as exc:  # an unsupported redirect target, a broken TLS handshake, ...
            raise FetchError(f"cannot fetch ({type(exc).__name__})") from None
