"""Stories: every article names its outlet, articles of one happening share an event across
outlets, events that follow one another share a story, and an answer says who else reported
what it quotes."""

import json

import numpy as np
import pytest

from index import corroboration, stories
from index.articles import open_articles
from index.build import build_from_config
from index.cli import main
from index.config import load_config
from index.documents import Document
from index.search import Searcher
from tests.conftest import write_config

DAM = (
    "The Mosul Dam on the Tigris burst early on Sunday, flooding twelve villages downstream, "
    "the Iraqi water ministry said."
)
ROWS = [
    {
        "id": "bbc-dam",
        "outlet": "BBC News - Middle East",  # a section feed's title: the site is the outlet
        "url": "https://www.bbc.co.uk/arabic/dam-1",
        "date": "2026-03-01T06:10:00+00:00",
        "title": "Mosul Dam bursts and floods twelve villages on the Tigris",
        "text": f"{DAM} Rescue teams were sent from Mosul and Erbil.\n\n"
        "Engineers had warned for years that the foundations of the dam were being washed away.\n\n"
        "The ministry said 3,000 families had left their homes by the evening.",
    },
    {
        "id": "bbc-dam-world",
        "outlet": "BBC News - World",  # another section feed of the same site, on another host
        "url": "https://news.bbc.co.uk/world/dam",
        "date": "2026-03-01T07:30:00+00:00",
        "title": "Mosul Dam on the Tigris bursts, twelve villages flooded",
        "text": f"{DAM}\n\nThousands of people fled to higher ground around Mosul as the water rose.",
    },
    {
        "id": "f24-dam",
        "outlet": "France 24",
        "url": "https://www.france24.com/ar/dam",
        "date": "2026-03-01T09:40:00+00:00",
        "title": "Twelve villages flooded after the Mosul Dam on the Tigris bursts",
        "text": "The Mosul Dam on the Tigris burst on Sunday morning and flooded twelve villages downstream, "
        "according to the Iraqi water ministry.\n\n"
        "Civil defence teams from Mosul and Erbil evacuated families by boat, a spokesman said.\n\n"
        "The dam, built in the 1980s on soluble rock, has needed constant grouting.",
    },
    {
        "id": "bbc-arrests",
        "url": "https://www.bbc.co.uk/arabic/dam-2",
        "date": "2026-03-04T12:00:00+00:00",
        "title": "Iraq arrests Mosul Dam engineers after the Tigris flood",
        "text": "Iraqi authorities arrested four engineers of the Mosul Dam on Wednesday, three days after the "
        "dam on the Tigris burst and flooded twelve villages.\n\n"
        "A judge in Nineveh ordered them held for ten days while the collapse is investigated.",
    },
    {
        "id": "cinema",
        "url": "https://news.example.org/cinema",
        "date": "2026-03-01T08:00:00+00:00",
        "title": "Riyadh opens its first cinema in decades",
        "text": "The first cinema in Riyadh in more than thirty years opened on Sunday with a screening of a "
        "Hollywood film.\n\nTickets for the first week sold out within hours, the operator said.",
    },
]


def corpus(folder, rows):
    path = folder / "news.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory, models):
    folder = tmp_path_factory.mktemp("stories")
    config = load_config(write_config(folder))
    build_from_config(config, models, corpus=corpus(folder, ROWS), warn=lambda _: None)
    return config


def listed(capsys, config) -> dict:
    assert main(["list", "--json", "--config", str(config.path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return {r["id"].split("#")[-1]: r for r in rows}


def test_every_article_names_its_outlet_and_belongs_to_an_event_and_a_story(archive, capsys):
    rows = listed(capsys, archive)
    assert rows["bbc-dam"]["outlet"] == "BBC Arabic"  # its site, by the name sources.outlets gives it
    assert rows["bbc-dam-world"]["outlet"] == "BBC Arabic"  # the same site, whatever its feed's title
    assert rows["f24-dam"]["outlet"] == "France 24"
    assert rows["cinema"]["outlet"] == "example.org"  # a site no name is given for
    assert rows["bbc-dam"]["event"] == rows["f24-dam"]["event"] == rows["bbc-dam-world"]["event"]
    assert rows["bbc-arrests"]["event"] != rows["bbc-dam"]["event"]  # what followed is another event...
    assert rows["bbc-arrests"]["story"] == rows["bbc-dam"]["story"]  # ...of the same story
    assert rows["cinema"]["story"] not in {rows[r]["story"] for r in ("bbc-dam", "f24-dam", "bbc-arrests")}


def test_articles_taken_in_one_by_one_get_the_groups_a_rebuild_gives(tmp_path, models, archive, capsys):
    config = load_config(write_config(tmp_path))
    for n in range(1, len(ROWS) + 1):  # the newest first, one more each time
        build_from_config(config, models, corpus=corpus(tmp_path, ROWS[::-1][:n]), warn=lambda _: None)
    stepwise = {k: (v["event"], v["story"]) for k, v in listed(capsys, config).items()}
    whole = {k: (v["event"], v["story"]) for k, v in listed(capsys, archive).items()}
    assert stepwise == whole


def test_an_up_to_date_index_is_regrouped_when_the_grouping_changes(tmp_path, models, capsys, monkeypatch):
    config = load_config(write_config(tmp_path))
    build_from_config(config, models, corpus=corpus(tmp_path, ROWS), warn=lambda _: None)
    rows = listed(capsys, config)
    assert rows["bbc-dam"]["event"] == rows["f24-dam"]["event"]
    monkeypatch.setattr(stories, "EVENT_BAR", 1.01)  # a new release whose bar no pair reaches
    result = build_from_config(config, models, corpus=corpus(tmp_path, ROWS), warn=lambda _: None)
    assert result.up_to_date and result.embedded == 0  # the articles are not embedded again...
    rows = listed(capsys, config)
    assert rows["bbc-dam"]["event"] != rows["f24-dam"]["event"]  # ...but their groups are made again


def test_an_answer_names_the_other_outlet_that_states_the_same_and_shows_the_statement_once(archive, models):
    answer = Searcher(archive, models).ask("How many villages did the Mosul Dam flood?", k=3)
    first = answer.passages[0]
    assert first.doc_id.split("#")[-1] in ("bbc-dam", "bbc-dam-world", "f24-dam")
    assert "twelve villages" in first.highlight
    [report] = first.also_reported_by  # two feeds of one site are one outlet: never its own corroboration
    other = "BBC Arabic" if first.doc_id.endswith("f24-dam") else "France 24"
    assert report.outlet == other and "twelve villages" in report.text and report.url
    assert report.text in open_articles(archive).get(report.doc_id).text  # quoted verbatim
    as_json = answer.to_dict()["passages"][0]
    assert {"outlet", "event", "story", "also_reported_by"} <= set(as_json)
    assert set(as_json["also_reported_by"][0]) == {"doc_id", "outlet", "title", "url", "date", "text"}
    quoted_elsewhere = [p for p in answer.passages[1:] if p.doc_id == report.doc_id and report.text in p.text]
    assert not quoted_elsewhere  # the second outlet's sentence is the first passage's corroboration


def test_story_lists_the_events_in_date_order(archive, capsys):
    assert main(["story", "--json", "--config", str(archive.path), "news.jsonl#bbc-arrests"]) == 0
    story = json.loads(capsys.readouterr().out)
    events = story["events"]
    assert [len(e["articles"]) for e in events] == [3, 1]
    assert [a["doc_id"].split("#")[-1] for a in events[0]["articles"]] == ["bbc-dam", "bbc-dam-world", "f24-dam"]
    assert events[0]["date"] < events[1]["date"] and events[1]["articles"][0]["outlet"] == "BBC Arabic"
    assert set(events[0]["articles"][0]) == {"doc_id", "outlet", "title", "url", "date"}
    assert main(["story", "--config", str(archive.path), "no-such-article"]) == 1


def test_an_outlet_is_a_site_whatever_its_feeds_call_themselves():
    def outlet(url, given=None, names=None):
        return stories.outlet_of(Document("id", "title", url, None, "en", "text", given), names or {})

    reuters = {outlet("https://www.reuters.com/world/1", "Reuters - World News")}
    reuters.add(outlet("https://uk.reuters.com/top/2", "Reuters - Top News"))
    assert reuters == {"reuters.com"}
    assert outlet("https://news.bbc.co.uk/1") == outlet("https://www.bbc.co.uk/2") == "bbc.co.uk"
    assert outlet("https://www.bbc.com/3") == "bbc.com"  # another registrable domain
    named = {"www.reuters.com": "Reuters"}
    assert outlet("https://uk.reuters.com/3", "Reuters UK", named) == "Reuters"  # any host of the site
    assert outlet(None, "Al Jazeera") == "Al Jazeera"  # no URL: the name its source gives
    assert outlet(None, "Reuters - World News", {"Reuters - World News": "Reuters"}) == "Reuters"
    assert outlet("http://127.0.0.1:8080/a", "Local") == "127.0.0.1"


def test_an_outlet_name_is_capped_however_long_its_source_makes_it():
    hostile = stories.outlet_of(Document("id", "title", None, None, "en", "text", "Breaking " * 600), {})
    assert len(hostile) <= stories.MAX_OUTLET_CHARS and hostile.startswith("Breaking Breaking")


def test_corroboration_reads_the_nearest_articles_of_a_large_event_a_few_per_outlet():
    # Row 0 is the passage's article (day 1000); 600 others over 300 days, from 40 outlets and its own.
    days = np.array([1000] + [1000 + (r % 300) - 150 for r in range(1, 600)] + [-1])
    outlet = {0: "Mine", **{r: "Mine" if r % 7 == 0 else f"Outlet {r % 40}" for r in range(1, 601)}}.get
    read = corroboration.to_read(0, list(range(601)), days, outlet)
    assert len(read) == corroboration.MAX_ARTICLES and len(set(read)) == len(read)
    assert all(outlet(r) != "Mine" for r in read) and 600 not in read  # other outlets, dated first
    per_outlet = {outlet(r): sum(outlet(x) == outlet(r) for x in read) for r in read}
    assert max(per_outlet.values()) <= corroboration.PER_OUTLET
    apart = sorted(abs(days[r] - 1000) for r in read)
    assert apart[-1] <= 30  # the nearest in time: of 600 spread over 300 days


def test_an_answer_reads_only_the_articles_corroboration_chooses(archive, models, monkeypatch):
    monkeypatch.setattr(corroboration, "MAX_ARTICLES", 0)
    answer = Searcher(archive, models).ask("How many villages did the Mosul Dam flood?", k=3)
    assert answer.passages and not any(p.also_reported_by for p in answer.passages)
