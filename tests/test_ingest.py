"""Ingestion against a real local web server: feeds and pages in, duplicates and changes told
apart, and every fault a news site can produce reported in one line without stopping the rest."""

import time

import pytest

from index.articles import ArticleStore
from index.ingest.http import Fetcher
from index.ingest.pipeline import Ingestor, RetryPolicy
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


class Clock:
    """The article store's time.time, moved on by hand: a day of polls in no time."""

    strftime, gmtime = staticmethod(time.strftime), staticmethod(time.gmtime)

    def __init__(self):
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def wait(self, minutes: float) -> None:
        self.now += minutes * 60


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("index.articles.time", clock)
    return clock


def rss(items: list[tuple[str, str | None]]) -> Page:
    """A feed of (link, RFC 822 date or None) items."""
    entries = "".join(
        f"<item><title>{link}</title><link>{link}</link>" + (f"<pubDate>{date}</pubDate>" if date else "") + "</item>"
        for link, date in items
    )
    return Page(f'<rss version="2.0"><channel><title>Busy</title>{entries}</channel></rss>'.encode(), etag=True)


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


def test_a_feed_of_a_thousand_items_is_taken_in_over_five_polls_each_page_once(web, ingest):
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
    polls = [ingest.update([web.url("/many.xml")]) for _ in range(5)]
    assert [(poll.new, poll.failed) for poll in polls] == [(200, [])] * 5  # sources.max_items_per_poll each
    assert ingest.update([web.url("/many.xml")]).unchanged == 1000  # no ETag: listed again, none fetched
    assert max(n for path, n in web.hits.items() if path.startswith("/many/")) == 1


def test_a_capped_poll_takes_the_newest_items_and_the_next_polls_the_rest(web, ingest):
    ingest.max_items_per_poll = 4
    days = [f"{day:02d}" for day in range(1, 11)]
    for day in days:
        web.routes[f"/day/{day}.html"] = article_page(
            f"Council day {day}", f"<p>Day {day} of the council. {PADDING}</p>"
        )
    dated = [(web.url(f"/day/{day}.html"), f"{day} Nov 2026 10:00:00 GMT") for day in days]
    web.routes["/busy.xml"] = rss(dated[5:] + dated[:5])  # not in date order, with an ETag
    feed = [web.url("/busy.xml")]
    assert ingest.update(feed).new == 4 and all(ingest.store.get(url) for url, _ in dated[6:])  # days 7 to 10
    assert [ingest.update(feed).new for _ in range(2)] == [4, 2]  # not hidden behind a 304
    last = ingest.update(feed)
    assert (last.new, last.unchanged, web.hits["/busy.xml"]) == (0, 0, 4)  # taken whole: now answered 304
    assert len(ingest.store.articles()) == 10 and max(web.hits[f"/day/{day}.html"] for day in days) == 1


def test_an_item_that_keeps_failing_in_a_busy_feed_is_given_up_and_never_stops_a_poll(web, ingest, clock):
    # Polled every 15 minutes for 15 hours, a feed that gains an article at each poll keeps
    # listing one page that answers 404; another feed comes after it.
    ingest.retry = RetryPolicy(retry_minutes=30, max_attempts=5)
    gone = (web.url("/gone.html"), None)
    for n in range(60):
        web.routes[f"/fresh/{n}.html"] = article_page(f"Council news {n}", f"<p>News {n} of the council. {PADDING}</p>")
    web.routes["/busy.xml"] = lambda n: rss([gone] + [(web.url(f"/fresh/{k}.html"), None) for k in range(n)])
    polls = []
    for _ in range(60):
        polls.append(ingest.update([web.url("/busy.xml"), web.url("/feed-en.xml")]))
        clock.wait(15)
    assert web.hits["/gone.html"] == 5  # at 0, 30, 90, 210 and 450 minutes: the wait doubles
    assert "given up after 5 tries" in polls[30].line() and all(poll.failed == [] for poll in polls[31:])
    assert sum(poll.new for poll in polls) == 61  # the 60 fresh articles, and the other feed's
    assert ingest.store.get(web.url("/fresh/59.html")) and ingest.store.get(web.url("/news/solar-plant.html"))
    [failure] = ingest.store.failures()
    assert failure.attempts == 5


@pytest.mark.parametrize("retry_minutes", [30, 10**7])
def test_a_failed_page_waits_a_day_at_most_however_often_it_failed(tmp_path, clock, retry_minutes):
    with ArticleStore(tmp_path / "articles.sqlite") as store:
        for _ in range(60):
            store.record_failure("https://news.example/gone", "link", "HTTP 404", retry_minutes)
        [failure] = store.failures()
        a_day_on = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 24 * 60 * 60))
        assert failure.attempts == 60 and failure.next_try == a_day_on
        assert store.due_failures(100) == []  # not due before then, read as text
        clock.wait(24 * 60)
        assert store.due_failures(100) == [failure]


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
