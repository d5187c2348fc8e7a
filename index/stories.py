"""Events and stories: which articles report the same happening, and which happenings follow
one another.

An event is the articles of one specific happening (an incident, a statement, a match, a
deal, a ruling), across outlets, usually within a day or two; a story is the events that
follow one another (the theft, the arrest, the bail hearing). Both are decided by one pairwise
score of two articles, a logistic model over what they share:

- the default model's cosine between their profiles (headline and lead paragraph, embedded once
  per article, from the embedding cache after the first time);
- the cosine of their whole texts' word weights (TF-IDF: each word's log count times its IDF
  over the archive), the classic measure of topic detection: the names, places and figures a
  report repeats count, common words hardly. Read over the whole text, not the headline and
  lead alone: cross-validated on the tuning pairs, it tells events and stories apart better
  (AUC .951 -> .955 and .910 -> .924) where the same over headline and lead adds nothing;
- the numbers their headline and lead share (a score, a toll, a price);
- how many days apart they were published, and whether one outlet published both (an outlet
  rarely reports one happening twice).

Articles are taken in date order (then id): each joins the event whose articles published up
to EVENT_DAYS before it score best with it on average, if that reaches the event bar, or
starts its own; then each event, in the order of its first article, joins the story of the
article published up to STORY_DAYS before it that scores best with one of its articles, if
that reaches the story bar. Groups are
a function of the articles alone, so that articles taken in one by one, and a rebuild of the
same articles, give the same groups. An event's and a story's id name its first article.

The weights were fitted on the tuning half of pairs of archive articles labelled by reading them
(bench/data/event_pairs.jsonl), and are checked on the held-out half and on whole events
(bench/stories.py). The bars are the model's even odds, not searched: from .3 to .7 the
tuning half's F1 stays within .76-.80 for events and .84-.89 for stories, so picking the best
of them would fit noise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import numpy as np

from .documents import Document
from .lexical import tokens

EVENT_DAYS = 2.0  # an event's articles lie this close to one of its others
STORY_DAYS = 21.0  # a story's next event follows within this
PROFILE_CHARS = 1200  # of the lead read into an article's profile
MAX_OUTLET_CHARS = 60  # of an outlet's name: a feed's title or a page's site name can be any length
# Logistic weights over (cosine, text cosine, shared numbers, days apart, same outlet, 1).
EVENT_WEIGHTS = np.array([39.624, 5.966, 1.686, -2.76, -0.678, -36.404])
STORY_WEIGHTS = np.array([37.83, 8.764, -0.966, -0.56, -0.661, -33.372])
EVENT_BAR = 0.5  # an article joins an event whose articles are on average more likely its own than not
STORY_BAR = 0.5  # an event joins a story of which one article is more likely its own than not
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_PREFIX_WWW = re.compile(r"^www\d?\.")


def profile_text(doc: Document) -> str:
    """What an article's profile vector is made of: its headline and its lead paragraph."""
    lead = doc.text.split("\n\n", 1)[0][:PROFILE_CHARS]
    return f"{doc.title}\n\n{lead}" if doc.title else lead


def outlet_of(doc: Document, names: dict[str, str]) -> str:
    """The outlet that published an article, by the name it is shown with. With a URL, its site
    (section feeds of one site are one outlet, whatever their titles), named by `names`
    (sources.outlets: a host or a name -> display name) for its host, else for any host of its
    site, else the site itself; without one, the name its source gives (a JSONL `outlet`), by
    its name in `names` where listed. At most MAX_OUTLET_CHARS either way."""
    host = urlsplit(doc.url).hostname if doc.url else None
    if host:
        site = site_of(host)
        name = names.get(host) or names.get(_PREFIX_WWW.sub("", host))
        name = name or next((shown for key, shown in names.items() if site_of(key) == site), site)
    else:
        name = names.get(doc.outlet, doc.outlet) if doc.outlet else ""
    name = " ".join(name.split())
    return name if len(name) <= MAX_OUTLET_CHARS else name[: MAX_OUTLET_CHARS - 1].rstrip() + "…"


@lru_cache(maxsize=4096)
def site_of(host: str) -> str:
    """A host's site: its registrable domain by the public suffix list tld ships (uk.reuters.com
    and www.reuters.com are reuters.com, news.bbc.co.uk is bbc.co.uk); else (an address, a
    name under no known suffix) the host without its www."""
    from tld import get_fld

    host = host.lower().rstrip(".")
    return get_fld(host, fix_protocol=True, fail_silently=True) or _PREFIX_WWW.sub("", host)


@dataclass(frozen=True)
class Profile:
    """What grouping reads of an article."""

    id: str
    day: float  # days since the epoch (UTC); nan when undated
    outlet: str
    vector: np.ndarray  # the default model's, of profile_text
    words: Counter[str]  # of the headline and the whole text
    numbers: frozenset[str]  # of profile_text


def profile(doc: Document, vector: np.ndarray, outlet: str) -> Profile:
    words = Counter(tokens(f"{doc.title}\n\n{doc.text}"))
    return Profile(doc.id, _day(doc.date), outlet, vector, words, frozenset(_NUMBER.findall(profile_text(doc))))


def _day(date: str | None) -> float:
    if not date:
        return math.nan
    try:
        moment = dt.datetime.fromisoformat(date.replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp() / 86400


def word_weights(profiles: list[Profile]) -> dict[str, float]:
    """Each word's IDF over the articles."""
    counts = Counter(w for p in profiles for w in p.words)
    n = len(profiles)
    return {w: math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}


def grouping_settings(names: dict[str, str]) -> str:
    """A fingerprint of what the groups depend on besides the articles (the weights, bars,
    windows, outlet names and how outlets are told apart): a build whose groups were made with
    others makes them again."""
    made_of = [EVENT_DAYS, STORY_DAYS, PROFILE_CHARS, EVENT_BAR, STORY_BAR, EVENT_WEIGHTS.tolist()]
    made_of += [STORY_WEIGHTS.tolist(), sorted(names.items()), "outlet by site", MAX_OUTLET_CHARS]
    return hashlib.sha256(json.dumps(made_of).encode()).hexdigest()[:16]


def group_id(kind: str, first: str) -> str:
    return f"{kind}-{hashlib.sha256(first.encode()).hexdigest()[:10]}"


class Pairs:
    """Pairwise scores of articles in date order, computed for the pairs within a window only
    (sparse word and number matrices: an article's text cosines and shared numbers in one product each)."""

    def __init__(self, order: list[Profile]):
        self.order = order
        self.row = {p.id: i for i, p in enumerate(order)}
        weight = word_weights(order)
        vocabulary = {w: i for i, w in enumerate(weight)}
        numbers = {n: i for i, n in enumerate({n for p in order for n in p.numbers})}
        tf_idf = [[(1 + math.log(c)) * weight[w] for w, c in p.words.items()] for p in order]
        self.texts = _normalized(_incidence([[vocabulary[w] for w in p.words] for p in order], len(vocabulary), tf_idf))
        self.numbers = _incidence([[numbers[n] for n in p.numbers] for p in order], len(numbers))
        self.vectors = np.array([p.vector for p in order], dtype=np.float32)
        self.days = np.array([p.day for p in order])
        outlets = {o: i for i, o in enumerate({p.outlet for p in order})}
        self.outlets = np.array([outlets[p.outlet] if p.outlet else -1 - i for i, p in enumerate(order)])

    def before(self, i: int, days: float) -> np.ndarray:
        """The articles before `i` in the order published at most `days` before it (dated ones)."""
        if math.isnan(self.days[i]):
            return np.zeros(0, dtype=np.int64)
        first = int(np.searchsorted(self.days[:i], self.days[i] - days, side="left"))
        return np.arange(first, i)

    def features(self, i: int, others: np.ndarray) -> np.ndarray:
        """Per pair of `i` with each of `others`: cosine, text cosine, shared numbers, days
        apart, same outlet, and 1 (the order of EVENT_WEIGHTS)."""
        common = np.asarray(self.numbers[others] @ self.numbers[i].T.toarray()).ravel()
        x = np.column_stack(
            [
                self.vectors[others] @ self.vectors[i],
                (self.texts[others] @ self.texts[i].T).toarray().ravel(),
                np.log1p(common),
                np.log1p(np.abs(self.days[i] - self.days[others])),
                (self.outlets[others] == self.outlets[i]).astype(float),
                np.ones(len(others)),
            ]
        )
        return x

    def scores(self, i: int, others: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The pairwise score of `i` with each of `others`: a probability."""
        if not len(others):
            return np.zeros(0)
        return 1 / (1 + np.exp(-np.clip(self.features(i, others) @ weights, -50, 50)))


def _incidence(rows: list[list[int]], width: int, values: list[list[float]] | None = None):
    """A sparse matrix of one row per article: 1, or its value, in each column it holds."""
    from scipy.sparse import csr_matrix

    if values is None:
        data = np.ones(sum(map(len, rows)), dtype=np.float32)
    else:
        data = np.array([v for r in values for v in r], dtype=np.float32)
    indices = np.array([c for r in rows for c in r], dtype=np.int64)
    pointers = np.cumsum([0] + [len(r) for r in rows])
    return csr_matrix((data, indices, pointers), shape=(len(rows), max(width, 1)))


def _normalized(matrix):
    """`matrix` with each row scaled to unit length (empty rows left empty)."""
    from scipy.sparse import diags

    lengths = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return (diags(1 / np.maximum(lengths, 1e-9)) @ matrix).tocsr()


def group(profiles: list[Profile]) -> dict[str, tuple[str, str]]:
    """Per article id: (its event, its story)."""
    order = sorted(profiles, key=lambda p: (math.isnan(p.day), p.day if not math.isnan(p.day) else 0.0, p.id))
    if not order:
        return {}
    pairs = Pairs(order)
    event_of = np.full(len(order), -1)
    members: list[list[int]] = []
    for i in range(len(order)):
        near = pairs.before(i, EVENT_DAYS)
        best = -1
        if len(near):
            scores = pairs.scores(i, near, EVENT_WEIGHTS)
            events = event_of[near]
            means = {e: float(scores[events == e].mean()) for e in np.unique(events)}
            e, value = max(means.items(), key=lambda item: (item[1], -item[0]))
            best = int(e) if value >= EVENT_BAR else -1
        if best < 0:
            best = len(members)
            members.append([])
        event_of[i] = best
        members[best].append(i)
    story_of = np.full(len(members), -1)  # events, in the order of their first article
    stories_first: list[int] = []
    for e, rows in enumerate(members):
        best, value = -1, STORY_BAR
        earlier = pairs.before(rows[0], STORY_DAYS)  # all of events already in a story
        for i in rows if len(earlier) else []:
            scores = pairs.scores(i, earlier, STORY_WEIGHTS)
            top = int(np.argmax(scores))
            if scores[top] >= value:
                best, value = int(story_of[event_of[earlier[top]]]), float(scores[top])
        if best < 0:
            best = len(stories_first)
            stories_first.append(e)
        story_of[e] = best
    event_ids = [group_id("ev", order[rows[0]].id) for rows in members]
    story_ids = [event_ids[e].replace("ev-", "st-", 1) for e in stories_first]
    return {p.id: (event_ids[event_of[i]], story_ids[story_of[event_of[i]]]) for i, p in enumerate(order)}


@dataclass(frozen=True)
class Event:
    """One event of a story's timeline: its day (its first article's date), and its articles."""

    event: str
    date: str | None
    articles: tuple[dict, ...]  # {doc_id, outlet, title, url, date}, first published first

    def to_dict(self) -> dict:
        return {"event": self.event, "date": self.date, "articles": list(self.articles)}


def timeline(index, story: str, outlet) -> list[Event]:
    """The events of `story` in date order (undated last), from an Index; `outlet(row)` names
    an article's outlet."""
    by_event: dict[str, list[int]] = {}
    for row in index.story_rows.get(story, []):
        by_event.setdefault(index.event_of[row], []).append(row)

    def when(row: int) -> tuple[bool, float, str]:
        day = _day(index.documents[row].date)
        return math.isnan(day), 0.0 if math.isnan(day) else day, index.documents[row].id

    events = []
    for event, rows in by_event.items():
        rows.sort(key=when)
        articles = tuple(
            {
                "doc_id": index.documents[r].id,
                "outlet": outlet(r) or None,
                "title": index.documents[r].title,
                "url": index.documents[r].url,
                "date": index.documents[r].date,
            }
            for r in rows
        )
        events.append((when(rows[0]), Event(event, articles[0]["date"], articles)))
    return [e for _, e in sorted(events, key=lambda item: item[0])]


# Chosen on the development questions of bench/story_answers.py (5 or 10 votes, windows .02 to
# none, weights 1/rank^p for p .5, 1, 2) when passages voted; with profiles voting, the tuned
# half scores the same for any window from .03 to none.
STORY_VOTES = 10  # of the articles closest to the question, best first, that vote for its story
STORY_WINDOW = 0.05  # an article votes only when its score is this close to the best one's


# Headlines that ask a question of their own ("how to prepare for a job interview?") come close
# to every question, and would win stories they have nothing to do with: a profile's score loses
# HUB_WEIGHT of its mean cosine to its HUB_REQUESTS closest everyday requests (as CSLS corrects
# hubs in cross-language retrieval). Chosen on the same tuned half (weights .25 to 1, 1 to 10
# requests).
HUB_REQUESTS = 5
HUB_WEIGHT = 0.5


def commonness(profiles: np.ndarray, requests: np.ndarray) -> np.ndarray:
    """Per profile, its mean cosine to its HUB_REQUESTS closest everyday requests."""
    if not len(profiles):
        return np.zeros(0, dtype=np.float32)
    closeness = profiles @ requests.T
    n = min(HUB_REQUESTS, closeness.shape[1])
    return np.partition(closeness, closeness.shape[1] - n, axis=1)[:, -n:].mean(axis=1)


def closest_profiles(vector: np.ndarray, index, common: np.ndarray) -> list[tuple[int, float]]:
    """The STORY_VOTES articles in the archive whose profile (headline and lead) is closest to a
    question's vector, less HUB_WEIGHT of its `common`ness (per row of index.live_rows), best
    first: (row, score)."""
    if not len(index.live_rows):
        return []
    scores = index.live_profiles @ vector - HUB_WEIGHT * common
    return [(int(index.live_rows[i]), float(scores[i])) for i in _best(scores, STORY_VOTES)]


STORY_READ = 48  # of a story's articles retrieval left out, the closest read for its answer


def closest_of(rows: list[int], vector: np.ndarray, index) -> list[int]:
    """Of `rows`, the STORY_READ whose profile is closest to `vector` (all, if no more)."""
    if len(rows) <= STORY_READ:
        return rows
    scores = index.live_profiles[np.searchsorted(index.live_rows, rows)] @ vector
    return [rows[i] for i in _best(scores, STORY_READ)]


def _best(scores: np.ndarray, n: int) -> np.ndarray:
    """The positions of the `n` highest `scores`, highest first (ties in order)."""
    best = np.argpartition(-scores, n)[:n] if len(scores) > n else np.arange(len(scores))
    return best[np.argsort(-scores[best], kind="stable")]


def asked_story(closest: list[tuple[int, float]], index) -> str | None:
    """The story a question about how something developed asks about, from the articles closest
    to it (row, score; each once), best first: each of the first STORY_VOTES within STORY_WINDOW of the
    best votes for its story, weighted 1/sqrt(rank), as the articles that match best and tell
    one story together outvote a lone better match. The story that wins must hold two of those
    articles; else None: no one story stands out."""
    if not closest:
        return None
    top = max(score for _, score in closest)
    votes: Counter = Counter()
    held: Counter = Counter()
    for rank, (row, score) in enumerate(closest[:STORY_VOTES]):
        story = index.story_of.get(row)
        if story is None or score < top - STORY_WINDOW:
            continue
        votes[story] += 1 / math.sqrt(rank + 1)
        held[story] += 1
    if not votes:
        return None
    story = votes.most_common(1)[0][0]
    return story if held[story] >= 2 else None


def story_first(docs: list[int], story: str, index) -> list[int]:
    """An order of passages (the row of each one's article, best first) for a question about
    `story`: the best passage of each of its events, newest article first (undated last), then
    the passages of other stories as they were. The story's other passages are left out: one
    passage an event, and its Timeline shows the rest; a story of one event has no Timeline, so
    all its passages come first, newest day first (the best of a day first)."""

    def newest(i: int) -> int:  # sorted is stable: relevance orders a day's passages
        return -index.doc_days[docs[i]]

    if len({index.event_of[row] for row in index.story_rows.get(story, [])}) == 1:
        first = sorted((i for i, row in enumerate(docs) if index.story_of.get(row) == story), key=newest)
    else:
        best_of_event: dict[str, int] = {}
        for i, row in enumerate(docs):
            if index.story_of.get(row) == story:
                best_of_event.setdefault(index.event_of[row], i)
        first = sorted(best_of_event.values(), key=newest)
    return first + [i for i, row in enumerate(docs) if index.story_of.get(row) != story]
