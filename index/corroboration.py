"""Also reported by: the other outlets of a passage's event, each with its sentence closest to
what the passage quotes.

For a shown passage, the other articles of its event (stories.py) from other outlets are read
for the sentence closest to the quoted one (the default model's cosine between their sentence
units, the best pair): those published nearest to it, at most MAX_ARTICLES (PER_OUTLET of one
outlet), so that an event of hundreds of reports is not read whole on every question. An outlet
is named only when that cosine reaches SAME_STATEMENT, a high bar since naming a wrong outlet is
worse than naming none (bench/stories.py reports precision and coverage at it and on either
side). Read by hand (bench/data/statement_pairs.jsonl), 78% of the sentences it quotes state
what the passage quotes, the rest another statement of the same event (at .94: 97%, but for two
outlets in five); lower bars name more outlets of the right event, quoting other statements
more often still (a minister's reaction against the next day's countermeasures, the second goal
against the third). Reading the story's other articles published a day or two apart too (events
the grouping split) named more outlets, but on held-out events a quarter of them wrongly, and
read by hand, three in four of their sentences state something else. The same bar tells when
two passages of a reply quote one statement from two outlets: the second is then not shown as a
passage of its own, but as the first one's corroboration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .split import LONG_SENTENCE_WORDS

SAME_STATEMENT = 0.90
MAX_ARTICLES = 24  # of an event read for one passage
PER_OUTLET = 3  # of them from one outlet, so that a prolific one leaves room for the others


@dataclass(frozen=True)
class Report:
    """Another outlet's article of the event, and its sentence stating the same."""

    doc_id: str
    outlet: str
    title: str
    url: str | None
    date: str | None
    text: str
    link: str | None = None  # `url` scrolled to `text`; not in the JSON
    start: int = 0  # `text`'s span in its article; not in the JSON
    end: int = 0

    @property
    def span(self) -> tuple[int, int]:
        return self.start, self.end

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("link", "start", "end")}


Unit = tuple[int, int, int, int, np.ndarray]  # span, its sentence's span, its vector (Index.article_units)


def within(units: list[Unit], start: int, end: int) -> np.ndarray:
    """The vectors of the units that lie in start..end (at least the one overlapping most)."""
    inside = [u[4] for u in units if start <= u[0] and u[1] <= end]
    if not inside and units:
        inside = [max(units, key=lambda u: min(end, u[1]) - max(start, u[0]))[4]]
    return np.array(inside, dtype=np.float32).reshape(len(inside), -1)


def closest(quoted: np.ndarray, text: str, units: list[Unit]) -> tuple[float, tuple[int, int]]:
    """The cosine and span of the unit of `units` closest to any of the `quoted` vectors, as it
    would be quoted (its whole sentence unless that is long)."""
    if not len(quoted) or not units:
        return -1.0, (0, 0)
    cosines = (np.array([u[4] for u in units]) @ quoted.T).max(axis=1)
    best = int(np.argmax(cosines))
    start, end, s_start, s_end, _ = units[best]
    whole = len(text[s_start:s_end].split()) <= LONG_SENTENCE_WORDS
    return float(cosines[best]), (s_start, s_end) if whole else (start, end)


def same_statement(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two quotes (their units' vectors) say the same thing."""
    return bool(len(a) and len(b) and float((a @ b.T).max()) >= SAME_STATEMENT)


def to_read(row: int, event_rows: list[int], days: np.ndarray, outlet: Callable[[int], str]) -> list[int]:
    """The articles of the event of the passage's article `row` read for its corroboration:
    those of other named outlets, published nearest to it first (the undated last), at most
    PER_OUTLET of one outlet and MAX_ARTICLES in all. `days`: each row's day (< 0: undated)."""
    mine, dated = outlet(row), days[row] >= 0

    def distance(r: int) -> tuple:  # an undated passage has no nearest: dated ones first, by row
        if not dated:
            return (days[r] < 0, r)
        return (days[r] < 0, abs(int(days[r]) - int(days[row])), r)

    taken, per_outlet = [], Counter()
    for r in sorted(event_rows, key=distance):
        if len(taken) == MAX_ARTICLES:
            break
        name = outlet(r)
        if r != row and name and name != mine and per_outlet[name] < PER_OUTLET:
            per_outlet[name] += 1
            taken.append(r)
    return taken
