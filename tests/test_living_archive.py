"""The archive keeps itself current through the commands an operator runs: `update` takes a
feed's articles in and `ask` answers from them with their link and date; an unchanged feed
changes nothing; a corrected article's new sentence is found and its old one is not. Each test
runs against both stores: build folders, and PostgreSQL."""

import json
import subprocess
import sys
import time

import pytest

from index.articles import open_articles
from index.build import BuildError
from index.cli import main
from index.config import load_config
from index.ingest.pipeline import update_archive
from index.store import open_store
from tests.conftest import ROOT, write_config
from tests.fake_web import FakeWeb, Page


@pytest.fixture
def web():
    with FakeWeb() as server:
        server.news_site()
        yield server


def run(capsys, *args) -> str:
    code = main(list(args))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def ask(capsys, config, question) -> dict:
    return json.loads(run(capsys, "ask", "--json", "-k", "3", "--config", str(config), question))


def test_update_then_ask_answers_new_articles_with_their_link_and_date(tmp_path, web, capsys, models, store_config):
    feeds = [web.url("/feed-ar.xml"), web.url("/feed-en.xml")]
    config = write_config(tmp_path, store=store_config, sources={"feeds": feeds})
    result = subprocess.run(
        [sys.executable, "-m", "index", "update", "--json", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["failed"], summary["index"]["documents"]) == (3, [], 3)

    answer = ask(capsys, config, "How many homes will the solar plant near Ratawi power?")
    top = answer["passages"][0]
    assert any("350,000 homes" in p["text"] for p in answer["passages"])
    assert top["url"] == web.url("/news/solar-plant.html") and top["date"] == "2026-11-20T08:15:00Z"
    arabic = ask(capsys, config, "كم حاوية تحمل أول سفينة وصلت إلى ميناء الفاو؟")
    assert any("ألفا ومئتي حاوية" in p["text"] for p in arabic["passages"])
    assert arabic["passages"][0]["url"] == web.url("/news/basra-port.html")  # tracking parameters dropped

    pages = sum(n for path, n in web.hits.items() if path.startswith("/news/"))
    again = json.loads(run(capsys, "update", "--json", "--config", str(config)))
    assert (again["new"], again["changed"], again["index"]) == (0, 0, None)
    assert sum(n for path, n in web.hits.items() if path.startswith("/news/")) == pages

    corrected = web.file("solar-plant.html").replace(
        b"enough to power about 350,000 homes", b"enough to power about half a million homes"
    )
    web.routes["/news/solar-plant.html"] = Page(corrected)
    feed = web.file("feed-en.xml").replace(
        b"2026-11-20T08:15:00Z</updated>\n</entry>", b"2026-11-21T09:00:00Z</updated>\n</entry>"
    )
    web.routes["/feed-en.xml"] = Page(feed, content_type="application/atom+xml", etag=True)
    line = run(capsys, "update", "--config", str(config))
    assert line.startswith("0 new, 1 changed, 0 unchanged") and "updated: 1 added or changed" in line
    shown = " ".join(p["text"] for p in ask(capsys, config, "How many homes will the solar plant power?")["passages"])
    assert "half a million homes" in shown and "350,000" not in shown


def test_add_list_and_remove_an_article(tmp_path, web, capsys, models, store_config):
    config = str(write_config(tmp_path, store=store_config))
    added = json.loads(run(capsys, "add", "--json", "--config", config, web.url("/news/mosul-library.html")))
    assert added["new"] == 1 and added["index"]["documents"] == 1
    [listed] = [json.loads(line) for line in run(capsys, "list", "--json", "--config", config).splitlines()]
    assert listed["source"] == "link" and listed["date"] == "2026-11-19" and listed["id"] == added["ids"][0]
    assert run(capsys, "list", "--since", "2026-11-20", "--config", config) == ""
    question = "كم كتابا تضم المكتبة المركزية في جامعة الموصل؟"
    assert ask(capsys, config, question)["answered"]
    removed = json.loads(run(capsys, "remove", "--json", "--config", config, listed["url"]))
    assert removed["removed"] == 1
    assert not any("الموصل" in p["text"] for p in ask(capsys, config, question)["passages"])
    assert main(["remove", "--config", config, "no-such-id"]) == 1
    assert "no such article" in capsys.readouterr().out


def test_a_removed_article_stays_removed_when_its_feed_changes_until_add_force_takes_it_back(
    tmp_path, web, capsys, models, store_config
):
    config = str(write_config(tmp_path, store=store_config, sources={"feeds": [web.url("/feed-en.xml")]}))
    run(capsys, "update", "--config", config)
    solar = web.url("/news/solar-plant.html")
    assert json.loads(run(capsys, "remove", "--json", "--config", config, solar))["removed"] == 1
    web.routes["/news/dam.html"] = Page(
        b"<html><head><title>Mosul Dam grouting extended</title></head><body><article><h1>Mosul Dam grouting "
        b"extended</h1><p>Grouting work at the Mosul Dam will go on for eleven more years, the ministry said on "
        b"Sunday, after engineers found new cavities under the foundations of the dam on the Tigris.</p><p>The "
        b"work keeps the dam safe while a lasting repair is designed and paid for by the government.</p>"
        b"</article></body></html>"
    )
    feed = (
        web.file("feed-en.xml")
        .replace(  # the feed moves on: the removed story is listed again, and a new one
            b"</feed>",
            f'<entry><title>Mosul Dam grouting extended</title><link href="{web.base}/news/dam.html"/>'
            "<id>dam</id><updated>2026-11-22T07:00:00Z</updated></entry></feed>".encode(),
        )
        .replace(
            b"<updated>2026-11-20T08:15:00Z</updated>\n</entry>", b"<updated>2026-11-21T08:00:00Z</updated>\n</entry>"
        )
    )
    web.routes["/feed-en.xml"] = Page(feed, content_type="application/atom+xml")
    pages = web.hits["/news/solar-plant.html"]
    summary = json.loads(run(capsys, "update", "--json", "--config", config))
    assert (summary["new"], summary["skipped"]) == (1, [{"source": solar, "removed": summary["skipped"][0]["removed"]}])
    assert "1 skipped: " in summary["summary"] and "removed on" in summary["summary"]
    assert web.hits["/news/solar-plant.html"] == pages  # not even fetched
    listed = [json.loads(line)["url"] for line in run(capsys, "list", "--json", "--config", config).splitlines()]
    assert listed == [web.url("/news/dam.html")]
    assert main(["add", "--config", config, solar]) == 0  # a link sent again is still refused, and says why
    assert "1 skipped" in capsys.readouterr().out
    back = json.loads(run(capsys, "add", "--force", "--json", "--config", config, solar))
    assert (back["new"], back["skipped"]) == (1, [])
    assert any(
        "350,000 homes" in p["text"]
        for p in ask(capsys, config, "How many homes will the solar plant power?")["passages"]
    )


def test_articles_stored_while_another_build_ran_are_indexed_at_the_next_update(tmp_path, web, models, store_config):
    config = load_config(write_config(tmp_path, store=store_config, sources={"feeds": [web.url("/feed-en.xml")]}))
    with open_store(config).lock():  # an operator's build holds the store
        with pytest.raises(BuildError, match="another build"):
            update_archive(config, models)
    summary, result = update_archive(config, models)  # the feed answers 304: nothing new to fetch
    assert (summary.new, web.hits["/news/solar-plant.html"]) == (0, 1)
    assert result is not None and result.documents == 1


def test_an_update_killed_half_way_loses_nothing_it_stored(tmp_path, web, models, store_config):
    # A feed's newest item is fetched first: the Mosul page, then the Basra one, which stalls.
    stalled = Page(web.file("basra-port.html"), stall=30)
    web.routes["/news/basra-port.html"] = lambda n: stalled if n == 1 else Page(web.file("basra-port.html"))
    feeds = [web.url("/feed-ar.xml"), web.url("/feed-en.xml")]
    config_path = write_config(tmp_path, store=store_config, sources={"feeds": feeds})
    command = [sys.executable, "-m", "index", "update", "--config", str(config_path)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(300):  # until it waits on the second page of the Arabic feed
        if web.hits["/news/basra-port.html"]:
            break
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the update never reached the second page")
    process.kill()
    process.wait()
    config = load_config(config_path)
    with open_articles(config) as store:
        assert [a.url for a in store.articles()] == [web.url("/news/mosul-library.html")]  # committed before the kill
    summary, result = update_archive(config, models)
    assert (summary.new, summary.unchanged, summary.failed) == (2, 1, [])  # the stored page is not fetched again
    assert web.hits["/news/mosul-library.html"] == 1 and result.documents == 3
