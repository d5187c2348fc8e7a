"""Events and stories on the news archive (index/stories.py): how the grouping was fitted, and
how well it does on pairs and events labelled by reading the articles
(bench/data/event_pairs.jsonl, event_clusters.jsonl; a tuning and a held-out half).

- events: pairwise precision and recall over the labelled pairs (a pair is predicted the
  same event when both articles land in one event; a follow-up is another event);
- stories: pairwise precision, recall and F1 (a follow-up is the same story);
- whole events: of the labelled events, the share whose articles all land in one event;
- "also reported by": each article of a labelled event asked its headline, as a user would
  (the configured pipeline on the archive): the share whose first passage names another
  outlet of the event, and the share of the outlets named for a first passage of the event
  that are right (their article is of it too: the event, not the statement quoted, which
  only reading tells), over a grid of corroboration's bar;
  and, read by hand (statement_pairs.jsonl), the share of the quoted sentences at each bar
  that state what the passage quotes, not another statement of the event;
- the grouping's time over the whole archive;
- what a reader reaches: 90 tuning pairs read a second time, blind to the first labels
  (event_pairs_second_reading.jsonl), scored against the first reading as the grouping is.

`--fit` fits the pairwise weights (logistic regression on the tuning half's pairs) and prints
them for index/stories.py; the bars stay the model's even odds (index/stories.py says why).

    .venv/bin/python bench/stories.py [--fit]   (build the archive first: bench/archive.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import persistent_config  # noqa: E402

from index import corroboration, stories  # noqa: E402
from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import EmbeddingCache, embed_cached, load_models  # noqa: E402
from index.normalize import model_text  # noqa: E402
from index.search import Searcher  # noqa: E402

DATA = ROOT / "bench" / "data"


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def profiles(config, models, documents) -> list[stories.Profile]:
    cache = EmbeddingCache(config.cache_path)
    try:
        vectors, _, _ = embed_cached(models.primary, cache, [model_text(stories.profile_text(d)) for d in documents])
    finally:
        cache.close()
    names = dict(config.sources.outlets)
    return [stories.profile(d, v, stories.outlet_of(d, names)) for d, v in zip(documents, vectors)]


def pairwise(groups: dict, pairs: list[dict], half: str, same: set[str], index: int) -> tuple[float, float, float]:
    """Precision, recall, F1 of "same group" (`index` 0: event, 1: story) over one half's pairs,
    labels in `same` counting as the same group."""
    rows = [p for p in pairs if p["half"] == half]
    predicted = [groups[p["a"]][index] == groups[p["b"]][index] for p in rows]
    return scores(predicted, [p["label"] in same for p in rows])


def scores(predicted: list[bool], truth: list[bool]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of `predicted` "same group" against `truth`."""
    predicted_, truth_ = np.array(predicted, dtype=bool), np.array(truth, dtype=bool)
    tp = float((predicted_ & truth_).sum())
    precision, recall = tp / max(1, predicted_.sum()), tp / max(1, truth_.sum())
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def second_reading(pairs: list[dict], again: list[dict]) -> str:
    """How a second reading of some pairs agrees with the first: the share of labels alike, and
    its pairwise precision and recall of "same event" and F1 of "same story" against the first."""
    first = {(p["a"], p["b"]): p["label"] for p in pairs}
    both = [(first[(p["a"], p["b"])], p["label"]) for p in again]
    event = scores([b == "same_event" for _, b in both], [a == "same_event" for a, _ in both])
    story = scores([b != "different" for _, b in both], [a != "different" for a, _ in both])
    alike = np.mean([a == b for a, b in both])
    return (
        f"{len(both)} tuning pairs read twice: labels alike {alike:.3f}; the second reading's events "
        f"P {event[0]:.3f} R {event[1]:.3f}, stories F1 {story[2]:.3f}"
    )


def fit(pairs: list[dict], profiles_: list[stories.Profile], same: set[str]) -> np.ndarray:
    """Logistic regression (scikit-learn, on standardised features) on the tuning pairs; the
    weights back in the features' own units, the intercept last."""
    from sklearn.linear_model import LogisticRegression

    order = sorted(profiles_, key=lambda p: (np.isnan(p.day), np.nan_to_num(p.day), p.id))
    table = stories.Pairs(order)
    rows = [p for p in pairs if p["half"] == "tune"]
    x = np.array([table.features(table.row[p["a"]], np.array([table.row[p["b"]]]))[0, :-1] for p in rows])
    y = np.array([p["label"] in same for p in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0).fit((x - mean) / scale, y)
    raw = model.coef_[0] / scale
    return np.r_[raw, model.intercept_[0] - (raw * mean).sum()]


def grouped(profiles_: list[stories.Profile], **settings) -> dict:
    saved = {k: getattr(stories, k) for k in settings}
    try:
        for k, v in settings.items():
            setattr(stories, k, v)
        return stories.group(profiles_)
    finally:
        for k, v in saved.items():
            setattr(stories, k, v)


def also_reported(searcher: Searcher, clusters: list[dict], bar: float) -> tuple[float, float, int]:
    """(share of labelled-event articles whose first passage names another outlet of the event,
    share of the outlets named for a first passage of the event that are of the event, those
    named), asking each article's headline. An outlet named for a first passage from outside the
    labelled event is not judged: who else reported that article is not labelled."""
    saved, corroboration.SAME_STATEMENT = corroboration.SAME_STATEMENT, bar
    try:
        index, covered, named, right, asked = searcher.index, 0, 0, 0, 0
        rows = {doc.id.split("#")[-1]: row for doc, row in ((index.documents[r], r) for r in index.doc_row.values())}
        for cluster in clusters:
            members = set(cluster["articles"])
            outlets = {searcher.outlet(index, rows[a]) for a in members if a in rows}
            for article in cluster["articles"]:
                if article not in rows:
                    continue
                asked += 1
                answer = searcher.ask(index.documents[rows[article]].title)
                first = answer.passages[0] if answer.passages else None
                if first is None:
                    continue
                reports = first.also_reported_by
                if first.doc_id.split("#")[-1] in members:
                    named += len(reports)
                    right += sum(r.doc_id.split("#")[-1] in members for r in reports)
                others = outlets - {first.outlet}
                covered += any(r.outlet in others and r.doc_id.split("#")[-1] in members for r in reports)
        return covered / max(1, asked), right / max(1, named), named
    finally:
        corroboration.SAME_STATEMENT = saved


def statements(bar: float) -> str:
    """Of the sentence pairs of one event read for whether they state the same thing
    (statement_pairs.jsonl: cosines of .90 and more), those at or above `bar`: the share that do."""
    pairs = [p for p in read(DATA / "statement_pairs.jsonl") if p["read_as"] == "same event" and p["cosine"] >= bar]
    if bar < 0.90 or not pairs:
        return ""
    same = sum(p["label"] == "same" for p in pairs) / len(pairs)
    partly = sum(p["label"] in ("same", "partly") for p in pairs) / len(pairs)
    return f"   read: the same statement {same:.2f}, or part of it {partly:.2f} ({len(pairs)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "news_ar" / "articles.jsonl")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--fit", action="store_true", help="fit the pairwise weights, and print them")
    args = parser.parse_args()
    config = load_config(args.config)
    models = load_models(config)
    documents = load_corpus(config.seeds_dir, args.corpus, warn=lambda _: None)
    pairs, clusters = read(DATA / "event_pairs.jsonl"), read(DATA / "event_clusters.jsonl")
    found = profiles(config, models, documents)
    short = [dataclasses.replace(p, id=p.id.split("#")[-1]) for p in found]
    settings = {}
    if args.fit:
        event_w, story_w = fit(pairs, short, {"same_event"}), fit(pairs, short, {"same_event", "follow_up"})
        settings = dict(EVENT_WEIGHTS=event_w, STORY_WEIGHTS=story_w)
        print("fitted on the tuning half (for index/stories.py):")
        for k, v in settings.items():
            print(f"  {k} = {np.round(v, 3).tolist()}")
    began = time.perf_counter()
    groups = grouped(short, **settings)
    took = time.perf_counter() - began
    print(f"\n{'':<10}{'events P':>10}{'R':>7}{'F1':>7}{'stories P':>11}{'R':>7}{'F1':>7}{'whole events':>14}")
    for half in ("tune", "heldout"):
        e = pairwise(groups, pairs, half, {"same_event"}, 0)
        s = pairwise(groups, pairs, half, {"same_event", "follow_up"}, 1)
        mine = [c for c in clusters if c["half"] == half]
        whole = np.mean([len({groups[a][0] for a in c["articles"]}) == 1 for c in mine])
        figures = "".join(f"{v:>{w}.3f}" for v, w in zip((*e, *s), (10, 7, 7, 11, 7, 7)))
        print(f"{half:<10}{figures}{whole:>10.3f} of {len(mine)}")
    sizes = np.bincount(np.unique([g[0] for g in groups.values()], return_counts=True)[1], minlength=5)
    events, story_count = len({g[0] for g in groups.values()}), len({g[1] for g in groups.values()})
    print("\nwhat a reader reaches: " + second_reading(pairs, read(DATA / "event_pairs_second_reading.jsonl")))
    print(
        f"\n{len(groups)} articles: {events} events, {story_count} stories; events of 1, 2, 3, 4+ articles: "
        f"{sizes[1]}, {sizes[2]}, {sizes[3]}, {sizes[4:].sum()}; grouping took {took:.1f} s"
    )
    if args.fit:
        return
    with persistent_config(config, "archive") as archive_config:
        build_index(archive_config, models, documents)  # events and stories into the archive's build
        searcher = Searcher(archive_config, models)
    now = corroboration.SAME_STATEMENT
    print(f'\n"also reported by" on the labelled events\' headlines (corroboration bar now {now}):')
    for bar in (0.86, 0.88, 0.90, 0.92):
        figures = []
        for half in ("tune", "heldout"):
            covered, right, named = also_reported(searcher, [c for c in clusters if c["half"] == half], bar)
            figures.append(f"{half} named {covered:.3f}, right {right:.3f} ({named})")
        print(f"  bar {bar:.2f}: " + "   ".join(figures) + statements(bar))
    print("\nreproduce: .venv/bin/python bench/stories.py")


if __name__ == "__main__":
    main()
