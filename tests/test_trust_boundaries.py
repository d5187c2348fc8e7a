"""What an operator relies on before putting Sanad in front of the public: ingestion reaches only
the public internet unless told otherwise, a removed article stays removed, files and feeds
keep their own identities, failed pages are not retried forever, credentials are never
printed or stored, and the package installs as a plain wheel."""

import ipaddress
import json
import socket
import sqlite3
import subprocess
import sys
import zipfile

import pytest

from index.articles import ArticleStore
from index.cli import main
from index.ingest.addresses import rule_against
from index.ingest.http import Fetcher, FetchError
from index.ingest.pipeline import Ingestor, RetryPolicy
from index.ingest.urls import canonical_url
from tests.conftest import ROOT, write_config
from tests.fake_web import FakeWeb, Page


@pytest.fixture
def web():
    with FakeWeb() as server:
        server.news_site()
        yield server


def ingestor(folder, retry: RetryPolicy | None = None, seeds_dir=None) -> Ingestor:
    """Ingestion into an article store in `folder`, from the tests' web server on 127.0.0.1."""
    fetcher = Fetcher(timeout=1.0, max_bytes=1 << 20, retries=0, allow_private=True)
    store = ArticleStore(folder / "articles.sqlite")
    return Ingestor(store, fetcher, retry=retry or RetryPolicy(), seeds_dir=seeds_dir)


def time_passes(store: ArticleStore) -> None:
    """Every failed page's wait is over."""
    with store._db.transaction():
        store._db.execute("UPDATE failures SET next_try = '2000-01-01T00:00:00Z'")


@pytest.mark.parametrize(
    "address, rule",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),  # the cloud's metadata service
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),  # deprecated, yet Python counts it as global
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:a00:1::", "private"),  # 6to4 around 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 around 169.254.169.254
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_only_public_addresses_pass(address, rule):
    assert rule_against(ipaddress.ip_address(address)) == rule


def test_add_of_a_loopback_address_in_any_form_fails_with_the_rule_and_sends_nothing(tmp_path, web, capsys, models):
    config = str(write_config(tmp_path, sources={"allow_private_addresses": False}))
    port = web.base.rsplit(":", 1)[1]
    urls = [
        web.url("/news/solar-plant.html"),
        f"http://localhost:{port}/news/solar-plant.html",
        f"http://[::1]:{port}/news/solar-plant.html",
        f"http://2130706433:{port}/news/solar-plant.html",  # 127.0.0.1 as one decimal number
        f"http://0x7f.1:{port}/news/solar-plant.html",
    ]
    assert main(["add", "--json", "--config", config, *urls]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["new"] == 0 and len(summary["failed"]) == len(urls)
    for failure in summary["failed"]:
        assert "a loopback address" in failure["reason"] and "sources.allow_private_addresses" in failure["reason"]
    assert not web.hits  # not one request reached the server


def test_a_host_is_looked_up_once_and_the_connection_goes_to_the_address_checked(web, monkeypatch):
    """DNS rebinding: a name that resolves to a public address when checked, and to loopback a
    moment later, never reaches loopback."""
    real = socket.getaddrinfo
    lookups = []

    def rebinding(host, port, *args, **kwargs):
        if host == "news.rebind.test":
            lookups.append(host)
            address = "192.0.2.1" if len(lookups) == 1 else "127.0.0.1"  # a public-looking first answer
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr("index.ingest.addresses.rule_against", lambda ip: None if str(ip) == "192.0.2.1" else "x")
    port = web.base.rsplit(":", 1)[1]
    with Fetcher(timeout=0.5, retries=0) as fetcher, pytest.raises(FetchError):
        fetcher.get(f"http://news.rebind.test:{port}/news/solar-plant.html")
    assert lookups == ["news.rebind.test"] and not web.hits


def test_a_redirect_is_followed_to_where_it_ends_and_the_article_is_cited_there(tmp_path, web):
    web.routes["/go/solar"] = Page(b"", 302, headers={"Location": "/news/solar-plant.html"})
    web.routes["/go/elsewhere"] = Page(b"", 302, headers={"Location": "file:///etc/passwd"})
    ingest = ingestor(tmp_path)
    summary = ingest.add([web.url("/go/solar"), web.url("/go/elsewhere")])
    assert summary.new == 1
    article = ingest.store.get(web.url("/go/solar"))  # the link it came by still finds it
    assert article.url == web.url("/news/solar-plant.html")
    [(where, why)] = summary.failed
    assert where == web.url("/go/elsewhere") and "not http(s)" in why


def test_canonical_urls_change_nothing_a_server_reads():
    assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert canonical_url("http://news.example/a?x=1;y=2") == "http://news.example/a?x=1;y=2"
    assert canonical_url("http://news.example/a?123") == "http://news.example/a?123"
    assert canonical_url("http://news.example/a?b=%20&utm_medium=feed&a=1") == "http://news.example/a?b=%20&a=1"
    assert canonical_url("https://reader:s3cret@news.example/a") == "https://news.example/a"


def test_a_feed_with_credentials_in_its_url_never_shows_or_stores_them(tmp_path, web):
    ingest = ingestor(tmp_path)
    feed = web.url("/feed-en.xml").replace("http://", "http://reader:s3cret@")
    summary = ingest.update([feed])
    web.routes["/feed-en.xml"] = Page(b"broken", 500, "text/plain")
    failed = ingest.update([feed])
    assert summary.new == 1 and failed.failed
    assert "s3cret" not in summary.line() + failed.line()
    ingest.store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "articles.sqlite").iterdump())
    assert "s3cret" not in dump and "reader@" not in dump


def test_feed_links_that_are_not_web_pages_are_refused_without_a_fetch(tmp_path, web):
    items = "".join(
        f"<item><title>{n}</title><link>{link}</link></item>"
        for n, link in enumerate(["javascript:alert(1)", "file:///etc/passwd", "/relative/page.html"])
    )
    web.routes["/odd.xml"] = Page(f'<rss version="2.0"><channel><title>Odd</title>{items}</channel></rss>'.encode())
    summary = ingestor(tmp_path).update([web.url("/odd.xml")])
    assert summary.new == 0 and [why for _, why in summary.failed] == ["not an http(s) link"] * 3
    assert set(web.hits) == {"/odd.xml"}


def test_two_files_of_one_name_are_two_articles_and_a_seed_stays_a_seed(tmp_path):
    for folder, words in (("one", "The port took in forty ships."), ("two", "The dam on the Tigris held.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(f"Report\n\n{words}", encoding="utf-8")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "report.txt").write_text("Seed report\n\nThe library reopened.", encoding="utf-8")
    ingest = ingestor(tmp_path, seeds_dir=seeds)
    summary = ingest.add([str(tmp_path / "one" / "report.txt"), str(tmp_path / "two" / "report.txt")])
    assert summary.new == 2
    added = ingest.store.articles()
    assert sorted(a.text for a in added) == ["The dam on the Tigris held.", "The port took in forty ships."]
    assert len({a.id for a in added}) == 2 and all(a.id.endswith("/report.txt") for a in added)
    assert not any(str(tmp_path) in a.id for a in added)  # no folder is shown
    ingest.add([str(seeds / "report.txt")])
    seed = ingest.store.get("report.txt")  # the id and source a build gives it
    assert seed is not None and seed.source == "seeds" and len(ingest.store.articles()) == 3


def test_a_removed_file_is_skipped_when_added_again_until_forced(tmp_path):
    (tmp_path / "note.txt").write_text("Note\n\nThe council met on Sunday.", encoding="utf-8")
    ingest = ingestor(tmp_path)
    [article_id] = ingest.add([str(tmp_path / "note.txt")]).ids
    assert ingest.store.remove(article_id) is not None
    again = ingest.add([str(tmp_path / "note.txt")])
    assert (again.new, len(again.skipped)) == (0, 1) and "skipped" in again.line()
    assert ingest.add([str(tmp_path / "note.txt")], force=True).new == 1


def test_a_failed_page_waits_longer_each_time_and_is_given_up(tmp_path, web, capsys):
    web.routes["/feed.xml"] = Page(
        f'<rss version="2.0"><channel><title>F</title><item><title>Down</title><link>{web.base}/down.html</link>'
        "</item></channel></rss>".encode(),
        etag=True,  # unchanged from the second poll on: only the retries fetch the page
    )
    web.routes["/down.html"] = Page(b"down", 503, "text/plain")
    config = write_config(tmp_path, sources={"allow_private_addresses": True, "retry_minutes": 60, "max_attempts": 3})
    ingest = ingestor(tmp_path / "data", RetryPolicy(retry_minutes=60, max_attempts=3))
    feed = [web.url("/feed.xml")]
    assert len(ingest.update(feed).failed) == 1
    assert ingest.update(feed).failed == [] and web.hits["/down.html"] == 1  # not due for an hour
    time_passes(ingest.store)
    assert "given up" not in ingest.update(feed).line() and web.hits["/down.html"] == 2
    time_passes(ingest.store)
    assert "given up after 3 tries" in ingest.update(feed).line()
    time_passes(ingest.store)
    assert ingest.update(feed).failed == [] and web.hits["/down.html"] == 3  # given up: not fetched again
    ingest.store.record_failure(web.url("/other.html"), "http://gone.example/feed.xml", "HTTP 500")
    assert ingest.update(feed).failed == [] and not web.hits["/other.html"]  # its feed is no longer configured
    assert main(["list", "--failed", "--json", "--config", str(config)]) == 0
    listed = {row["url"]: row for row in map(json.loads, capsys.readouterr().out.splitlines())}
    down = listed[web.url("/down.html")]
    assert (down["attempts"], down["reason"], down["given_up"]) == (3, "HTTP 503", True)


def test_list_into_a_closed_pipe_is_quiet_and_succeeds(tmp_path):
    config = write_config(tmp_path)
    with ArticleStore(tmp_path / "data" / "articles.sqlite") as store:
        from index.articles import Article

        for n in range(3):
            store.put(Article(f"a{n}", None, f"Title {n}", None, "en", "file", f"Text number {n}."))
    process = subprocess.Popen(
        [sys.executable, "-m", "index", "list", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader is gone before the first line, as `| head -0` would be
    assert process.wait(timeout=60) == 0
    assert process.stderr.read().decode() == ""


def test_a_damaged_article_store_is_one_line_not_a_traceback(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "data" / "articles.sqlite").write_bytes(b"this is not a database" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "index", "list", "--config", str(config)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("sanad-index: error:") and len(result.stderr.strip().splitlines()) == 1


def test_the_wheel_holds_every_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("sanad-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {str(p.relative_to(ROOT)) for top in ("index", "bot") for p in (ROOT / top).rglob("__init__.py")}
    assert {"index/store/__init__.py", "index/ingest/__init__.py", "bot/__init__.py"} <= packages <= names
    assert {"index/data/ranker.json", "index/data/answerable.json"} <= names  # the ranker's models ship inside
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sanad-index = index.cli:main" in scripts and "sanad-bot = bot.__main__:main" in scripts
