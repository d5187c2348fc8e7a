"""A small web server on 127.0.0.1 for ingestion tests: news sites, feeds, and every fault a
real one has (errors, throttling, stalls, redirect loops, huge or binary bodies). Counts the
requests for each path, so tests can tell what was fetched again."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).parent / "data" / "web"


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = False  # answer a matching If-None-Match with 304
    stall: float = 0.0  # seconds to wait before answering


Route = Page | Callable[[int], Page]  # a page, or a function of how many times it was asked for


class FakeWeb:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                path = self.path
                web.hits[path] += 1
                route = web.routes.get(path, Page(b"not found", 404, "text/plain"))
                page = route(web.hits[path]) if callable(route) else route
                if page.stall:
                    time.sleep(page.stall)
                tag = '"' + hashlib.sha256(page.body).hexdigest()[:16] + '"'
                if page.etag and self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                if page.etag:
                    self.send_header("ETag", tag)
                for key, value in page.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(page.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a size cap): expected

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def file(self, name: str) -> bytes:
        """A fixture from tests/data/web, with {base} replaced by this server's address."""
        return (DATA / name).read_text(encoding="utf-8").replace("{base}", self.base).encode()

    def news_site(self) -> None:
        """Two feeds (Arabic RSS, English Atom) and the three article pages they list."""
        for name in ("basra-port", "mosul-library", "solar-plant"):
            self.routes[f"/news/{name}.html"] = Page(self.file(f"{name}.html"))
        self.routes["/feed-ar.xml"] = Page(self.file("feed-ar.xml"), content_type="application/rss+xml", etag=True)
        self.routes["/feed-en.xml"] = Page(self.file("feed-en.xml"), content_type="application/atom+xml", etag=True)
