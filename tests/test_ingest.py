"""Ingestion against a real local web server: feeds and pages in, duplicates and changes told
apart, and every fault a news site can produce reported in one line without stopping the rest."""

import pytest

from index.articles import ArticleStore
from index.ingest.http import Fetcher
from index.ingest.pipeline import Ingestor
from index.ingest.urls import canonical_url
from tests.fake_web import FakeWeb, Page

PADDING = " ".join(["The council met again on Sunday to discuss the plan in detail."] * 5)


@pytest.fixture
def web():
    with FakeWeb() as server:
        server.news_site()
        yield server


@pytest.fixture
def ingest(tmp_path):
    store = ArticleStore(tmp_path / "articles.sqlite")
    with Fetcher(timeout=1.0, max_bytes=1 << 20, retries=2, backoff=0.05, allow_private=True) as fetcher:
        yield Ingestor(store, fetcher)
    store.close()


def feeds(web):
    return [web.url("/feed-ar.xml"), web.url("/feed-en.xml")]


def article_page(title: str, body: str) -> Page:
    return Page(
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>".encode()
    )


def test_feed_items_are_stored_with_their_url_date_and_text(web, ingest):
    summary = ingest.update(feeds(web))
    assert (summary.new, summary.failed) == (3, [])
    port = ingest.store.get(web.url("/news/basra-port.html"))  # the utm_ parameters are dropped
    assert port.title == "ميناء الفاو الكبير يستقبل أول سفينة حاويات" and port.lang == "ar"
    assert port.date == "2026-11-18T06:30:00Z" and port.source == web.url("/feed-ar.xml")
    assert "ألفا ومئتي حاوية" in port.text and "جميع الحقوق" not in port.text  # the footer is not the article
    assert port.text.count("\n\n") == 2  # its three paragraphs
    solar = ingest.store.get(web.url("/news/solar-plant.html"))
    assert solar.lang == "en" and "one gigawatt" in solar.text


def test_an_unchanged_feed_costs_one_request_and_fetches_no_page_again(web, ingest):
    ingest.update(feeds(web))
    pages_before = {path: n for path, n in web.hits.items() if path.startswith("/news/")}
    summary = ingest.update(feeds(web))
    assert (summary.new, summary.changed, summary.failed) == (0, 0, [])
    assert {path: n for path, n in web.hits.items() if path.startswith("/news/")} == pages_before
    assert web.hits["/feed-ar.xml"] == 2  # answered 304 the second time


def test_an_article_changed_at_the_source_replaces_the_old_text(web, ingest):
    ingest.update(feeds(web))
    page = web.file("solar-plant.html").replace(b"one gigawatt", b"two gigawatts")
    web.routes["/news/solar-plant.html"] = Page(page)
    feed = web.file("feed-en.xml").replace(
        b"<updated>2026-11-20T08:15:00Z</updated>\n</entry>", b"<updated>2026-11-21T10:00:00Z</updated>\n</entry>"
    )
    web.routes["/feed-en.xml"] = Page(feed, content_type="application/atom+xml", etag=True)
    summary = ingest.update(feeds(web))
    assert (summary.changed, summary.new, summary.unchanged) == (1, 0, 0)  # the Arabic feed answered 304
    assert "two gigawatts" in ingest.store.get(web.url("/news/solar-plant.html")).text
    assert len(ingest.store.articles()) == 3


def test_recheck_fetches_every_known_page_for_sources_that_correct_silently(web, ingest):
    ingest.update(feeds(web))
    web.routes["/news/mosul-library.html"] = Page(
        web.file("mosul-library.html").replace("ثلاثين".encode(), "أربعين".encode())
    )
    assert ingest.update(feeds(web)).changed == 0  # the feed did not say
    del web.routes["/news/basra-port.html"]  # and one page disappeared
    summary = ingest.update(feeds(web), recheck=True)
    assert (summary.changed, summary.unchanged) == (1, 1)
    assert summary.failed == [(web.url("/news/basra-port.html"), "HTTP 404")]
    assert "أربعين ألف كتاب" in ingest.store.get(web.url("/news/mosul-library.html")).text
    assert "ألفا ومئتي حاوية" in ingest.store.get(web.url("/news/basra-port.html")).text  # kept, with its last text


def test_the_same_article_under_two_urls_is_one_article(web, ingest):
    web.routes["/amp/solar-plant.html"] = Page(web.file("solar-plant.html"))
    summary = ingest.add(
        [
            web.url("/news/solar-plant.html?utm_campaign=x&fbclid=abc#top"),
            web.url("/news/solar-plant.html"),
            web.url("/amp/solar-plant.html"),
        ]
    )
    assert (summary.new, summary.unchanged) == (1, 2)
    assert len(ingest.store.articles()) == 1
    assert ingest.store.get(web.url("/amp/solar-plant.html")).url == web.url("/news/solar-plant.html")


def test_canonical_urls():
    assert canonical_url("HTTPS://News.Example:443/a?utm_source=x&id=7&gclid=1#part") == "https://news.example/a?id=7"
    assert canonical_url("http://news.example") == "http://news.example/"


BAD_PAGES = {
    "/missing.html": (None, "HTTP 404"),
    "/broken.html": (Page(b"oops", 500, "text/plain"), "HTTP 500"),
    "/stalled.html": (Page(b"late", stall=3.0), "timed out"),
    "/loop.html": (Page(b"", 302, headers={"Location": "/loop.html"}), "redirects"),
    "/report.pdf": (Page(b"%PDF-1.7 " + b"x" * 1000, content_type="application/pdf"), "not a web page"),
    "/photo.png": (Page(b"\x89PNG\r\n" + b"x" * 1000, content_type="image/png"), "not a web page"),
    "/huge.html": (Page(b"<p>" + b"a" * (50 << 20)), "larger than 1 MB"),
    "/front-page.html": ("front-page.html", "index page"),
    "/teaser.html": (article_page("Short", "<p>Read more soon.</p>"), "no article text"),
}


def test_each_bad_page_is_one_line_with_its_reason_and_the_rest_goes_on(web, ingest):
    for path, (page, _) in BAD_PAGES.items():
        if page is not None:
            web.routes[path] = Page(web.file(page)) if isinstance(page, str) else page
    good = web.url("/news/mosul-library.html")
    summary = ingest.add([web.url(path) for path in BAD_PAGES] + [good, "not-a-link-or-file"])
    assert summary.new == 1 and ingest.store.get(good) is not None
    reasons = dict(summary.failed)
    for path, (_, reason) in BAD_PAGES.items():
        assert reason in reasons[web.url(path)], (path, reasons[web.url(path)])
    assert "not an http(s) URL" in reasons["not-a-link-or-file"]
    assert web.hits["/broken.html"] == 3  # tried again with backoff before giving up
    assert "failed: " in summary.line() and summary.line().startswith("1 new, 0 changed, 0 unchanged, 10 failed")


def test_a_throttled_page_is_fetched_after_its_retry_after(web, ingest):
    web.routes["/busy.html"] = lambda n: (
        Page(b"slow down", 429, "text/plain", {"Retry-After": "1"}) if n == 1 else web.routes["/news/solar-plant.html"]
    )
    summary = ingest.add([web.url("/busy.html")])
    assert (summary.new, summary.failed, web.hits["/busy.html"]) == (1, [], 2)


def test_a_failed_item_is_tried_again_at_the_next_update_even_if_the_feed_did_not_change(web, ingest):
    page = web.routes["/news/mosul-library.html"]
    web.routes["/news/mosul-library.html"] = lambda n: Page(b"down", 503, "text/plain") if n <= 3 else page
    first = ingest.update(feeds(web))
    assert first.new == 2 and [url for url, _ in first.failed] == [web.url("/news/mosul-library.html")]
    second = ingest.update(feeds(web))
    assert (second.new, second.failed) == (1, [])


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"<rss><channel><item><title>no end", "not an RSS or Atom feed"),
        (b"this is not xml at all", "not an RSS or Atom feed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><rss><channel><title>&c;</title></channel></rss>',
            "entities",
        ),
    ],
)
def test_a_malformed_or_hostile_feed_is_refused_and_other_feeds_still_polled(web, ingest, body, reason):
    web.routes["/bad.xml"] = Page(body, content_type="application/rss+xml")
    summary = ingest.update([web.url("/bad.xml"), web.url("/feed-en.xml")])
    assert summary.new == 1
    [(where, why)] = summary.failed
    assert where == web.url("/bad.xml") and reason in why


def test_a_feed_of_a_thousand_items_is_taken_in_whole(web, ingest):
    items = "".join(
        f"<item><title>Item {n}</title><link>{web.base}/many/{n}.html</link>"
        f"<pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate></item>"
        for n in range(1000)
    )
    web.routes["/many.xml"] = Page(f'<rss version="2.0"><channel><title>Many</title>{items}</channel></rss>'.encode())
    for n in range(1000):
        web.routes[f"/many/{n}.html"] = article_page(
            f"Council item {n}", f"<p>Item {n} of the council agenda. {PADDING}</p>"
        )
    summary = ingest.update([web.url("/many.xml")])
    assert (summary.new, summary.failed) == (1000, [])
    assert ingest.update([web.url("/many.xml")]).unchanged == 1000  # no ETag: listed again, none fetched
    assert max(n for path, n in web.hits.items() if path.startswith("/many/")) == 1


def test_a_page_in_windows_1256_is_read_whether_or_not_it_says_so(web, ingest):
    page = web.file("mosul-library.html").decode().replace('<meta charset="utf-8">', "")
    web.routes["/cp1256.html"] = Page(page.encode("cp1256"), content_type="text/html")
    web.routes["/declared.html"] = Page(
        page.replace("ثلاثين", "أربعين").encode("cp1256"), content_type="text/html; charset=windows-1256"
    )
    summary = ingest.add([web.url("/cp1256.html"), web.url("/declared.html")])
    assert (summary.new, summary.failed) == (2, [])
    assert "ثلاثين ألف كتاب" in ingest.store.get(web.url("/cp1256.html")).text
    assert "أربعين ألف كتاب" in ingest.store.get(web.url("/declared.html")).text
