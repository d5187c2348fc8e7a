"""The build pipeline: articles -> chunks -> vectors (cached) -> a new current index."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .articles import open_articles
from .chunk import Chunk, chunk_document
from .config import Config
from .documents import Document, load_corpus
from .embed import EmbeddingCache, Models, embed_cached
from .lexical import LexicalIndex
from .normalize import detect_language, model_text
from .split import Span, clause_spans
from .store import (
    FORMAT_VERSION,
    BuildBusy,
    BuildTables,
    IndexStore,
    IndexUnavailable,
    new_segment_name,
    open_store,
    with_outlets,
)
from .stories import group, grouping_settings, outlet_of, profile, profile_text


class BuildError(RuntimeError):
    """A build that cannot run (no documents, another build running, unwritable store)."""


# A build holds at most this many segments; past it the smallest MERGE_COUNT are merged into
# one (vectors from the embedding cache: a merge re-embeds nothing). Each article is merged a
# logarithmic number of times, and a question searches a handful of segments. A segment mostly
# of removed articles is merged too.
MAX_SEGMENTS = 8
MERGE_COUNT = 4


@dataclass(frozen=True)
class BuildResult:
    documents: int
    chunks: int
    embedded: int
    cached: int
    seconds: float
    build: str  # the build's id
    up_to_date: bool = False
    added: int | None = None  # None: a full build; else articles added or replaced in place
    removed: int = 0
    segments: int = 1
    model_seconds: float = 0.0  # of `seconds`, the models' share (the rest is index work)

    def summary(self) -> str:
        totals = (
            f"{self.documents} documents, {self.chunks} chunks "
            f"({self.embedded} embedded, {self.cached} cached) in {self.seconds:.1f} s"
        )
        if self.up_to_date:
            return f"index up to date: {totals}"
        if self.added is None:
            return f"built: {totals}"
        return f"updated: {self.added} added or changed, {self.removed} removed; {totals}; {self.segments} segments"


def settings_fingerprint(models: Models, config: Config) -> str:
    """Everything a build's content depends on besides the articles: if it changes, every
    article is indexed again."""
    m = models.primary
    settings = [
        FORMAT_VERSION,
        m.model_id,
        models.second and models.second.model_id,
        m.query_prompt,
        m.passage_prompt,
        config.chunking.max_tokens,
        config.chunking.overlap_sentences,
        config.store.index_type,
    ]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()


def document_fingerprint(doc: Document) -> str:
    """Changes when anything a citation shows changes: the text, title, link, date, outlet."""
    fields = (doc.id, doc.title, doc.url or "", doc.date or "", doc.lang, doc.text)
    if doc.outlet:  # appended only when named, so that articles without one keep their fingerprint
        fields += (doc.outlet,)
    return hashlib.sha256("\0".join(fields).encode()).hexdigest()[:32]


def chunk_documents(config: Config, models: Models, documents: list[Document]) -> list[Chunk]:
    """The chunks a build embeds, in order: each document's, by the configured chunking."""
    count = models.primary.count_tokens
    return [
        chunk
        for doc in documents
        for chunk in chunk_document(doc, config.chunking.max_tokens, config.chunking.overlap_sentences, count)
    ]


def _tables(
    config: Config, models: Models, documents: list[Document], progress: bool
) -> tuple[BuildTables, int, float]:
    """Chunks, their vectors (from the cache where it has them), sentences and the lexical index.
    Returns the tables, how many chunks had to be embedded, and the seconds the models ran."""
    chunks = chunk_documents(config, models, documents)
    # Sentence units (long sentences cut into clauses) are embedded once each, even when
    # overlapping chunks share them.
    sentence_row: dict[tuple[str, Span], int] = {}
    chunk_sentence_rows, sentence_texts, sentence_spans = [], [], []
    text_of = {doc.id: doc.text for doc in documents}
    for chunk in chunks:
        rows = []
        units = [(u, s) for s in chunk.sentences for u in clause_spans(text_of[chunk.doc_id], s)]
        for span, sentence in units:
            key = (chunk.doc_id, span)
            if key not in sentence_row:
                sentence_row[key] = len(sentence_texts)
                sentence_texts.append(text_of[chunk.doc_id][span[0] : span[1]])
                sentence_spans.append((*span, *sentence))
            rows.append(sentence_row[key])
        chunk_sentence_rows.append(tuple(rows))
    chunk_texts = [c.text for c in chunks]
    read_chunks, read_sentences = [model_text(t) for t in chunk_texts], [model_text(t) for t in sentence_texts]
    cache = EmbeddingCache(config.cache_path)
    try:
        vectors, embedded, seconds = embed_cached(models.primary, cache, read_chunks, progress)
        second = second_sentences = None
        if models.second:
            second, _, more = embed_cached(models.second, cache, read_chunks, progress)
            seconds += more
        sentence_vectors, _, more = embed_cached(models.primary, cache, read_sentences, progress)
        seconds += more
        if models.second:
            second_sentences, _, more = embed_cached(models.second, cache, read_sentences, progress)
            seconds += more
        read_profiles = [model_text(profile_text(doc)) for doc in documents]
        profiles, _, more = embed_cached(models.primary, cache, read_profiles, progress)
        seconds += more
    finally:
        cache.close()
    langs = [detect_language(t) for t in chunk_texts]
    tables = BuildTables(
        documents,
        chunks,
        langs,
        chunk_sentence_rows,
        sentence_spans,
        vectors,
        second,
        sentence_vectors,
        second_sentences,
        LexicalIndex.build(chunk_texts),
        profiles,
    )
    return tables, embedded, seconds


def _groups(config: Config, models: Models, documents: list[Document]) -> dict:
    """manifest["groups"]: per article, [its event, its story, its outlet as its source names
    it] (stories.py). Profiles are embedded once per article; after that they come from the
    embedding cache."""
    cache = EmbeddingCache(config.cache_path)
    try:
        vectors, _, _ = embed_cached(models.primary, cache, [model_text(profile_text(d)) for d in documents])
    finally:
        cache.close()
    names = dict(config.sources.outlets)
    found = group([profile(d, v, outlet_of(d, names)) for d, v in zip(documents, vectors)])
    return {d.id: [*found[d.id], d.outlet] for d in documents}


def _manifest(config: Config, models: Models, settings: str, articles: dict, groups: dict) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "model_id": models.primary.model_id,
        "second_model_id": models.second.model_id if models.second else None,
        "prompts": {"query": models.primary.query_prompt, "passage": models.primary.passage_prompt},
        "chunking": {
            "max_tokens": config.chunking.max_tokens,
            "overlap_sentences": config.chunking.overlap_sentences,
        },
        "index_type": config.store.index_type,
        "settings": settings,
        # Per article in the archive: its segment, fingerprint, and chunk count.
        "articles": articles,
        "groups": groups,
        "grouping": grouping_settings(dict(config.sources.outlets)),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _entries(documents: list[Document], tables: BuildTables, segment: str) -> dict:
    counts = Counter(c.doc_id for c in tables.chunks)
    return {doc.id: [segment, document_fingerprint(doc), counts[doc.id]] for doc in documents}


def build_index(
    config: Config,
    models: Models,
    documents: list[Document],
    index_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
    verify: bool = True,
) -> BuildResult:
    """Make the current build hold exactly `documents`. With a current build of the same
    settings, only new and changed articles are chunked and embedded, into a new segment, and
    removed or replaced ones are marked removed: the work is in proportion to the change. An
    unchanged archive is left as it is, unless the current build is damaged (checked unless not
    `verify`): then it is built again. `force` (or other settings) builds every article again
    into one segment. The store is the config's, or build folders in `index_dir`."""
    began = time.perf_counter()
    store = open_store(config, index_dir)
    try:
        with store.lock():
            return _build(config, models, store, documents, force, progress, warn, verify, began)
    except BuildBusy as exc:
        raise BuildError(str(exc)) from None
    finally:
        store.close()


def _build(
    config: Config,
    models: Models,
    store: IndexStore,
    documents: list[Document],
    force: bool,
    progress: bool,
    warn: Callable[[str], None],
    verify: bool,
    began: float,
) -> BuildResult:
    settings = settings_fingerprint(models, config)
    base = None
    if not force:
        try:
            base = store.manifest()
        except IndexUnavailable as exc:  # damaged, or another version's: built again below
            warn(f"building the index again: {exc}")
    if base is not None and base.get("settings") == settings:
        wanted = {doc.id: document_fingerprint(doc) for doc in documents}
        old = base["articles"]
        changed = [doc for doc in documents if old.get(doc.id, [None, None])[1] != wanted[doc.id]]
        gone = {doc_id for doc_id in old if wanted.get(doc_id) != old[doc_id][1]}
        if changed or gone:
            groups = _groups(config, models, documents)
            return _add_segment(config, models, store, base, changed, gone, groups, progress, began)
        problem = store.verify() if verify else None
        if problem is None:
            chunks = sum(entry[2] for entry in old.values())
            current = store.current()
            grouping = grouping_settings(dict(config.sources.outlets))
            if base.get("grouping") != grouping:  # made before events, or by other weights: regrouped
                regrouped = dict(base, groups=_groups(config, models, documents), grouping=grouping)
                current = store.write(regrouped, [], kept=base["segments"])
            return BuildResult(len(documents), chunks, 0, chunks, time.perf_counter() - began, current, True)
        warn(f"the current index is damaged ({problem}); building it again")
    if not documents:  # an archive emptied article by article is still a build (above)
        raise BuildError("no documents to index: add articles to the seeds folder or pass --corpus")
    tables, embedded, model_seconds = _tables(config, models, documents, progress)
    name = new_segment_name()
    articles = _entries(documents, tables, name)
    groups = _groups(config, models, documents)
    build = store.write(_manifest(config, models, settings, articles, groups), [(name, tables)])
    n = len(tables.chunks)
    seconds = time.perf_counter() - began
    return BuildResult(len(documents), n, embedded, n - embedded, seconds, build, model_seconds=model_seconds)


def _add_segment(
    config: Config,
    models: Models,
    store: IndexStore,
    base: dict,
    changed: list[Document],
    gone: set[str],
    groups: dict,
    progress: bool,
    began: float,
) -> BuildResult:
    """A new build: the current one's segments, and the `changed` articles in a new segment;
    the `gone` ones (removed, or replaced by `changed`) leave the manifest's article map, so
    their old copies are skipped."""
    articles = {doc_id: entry for doc_id, entry in base["articles"].items() if doc_id not in gone}
    new, embedded, model_seconds = [], 0, 0.0
    if changed:
        tables, embedded, model_seconds = _tables(config, models, changed, progress)
        name = new_segment_name()
        new.append((name, tables))
        articles.update(_entries(changed, tables, name))
    # A segment left with no article in the archive is dropped, not kept in the new build.
    homes = {entry[0] for entry in articles.values()}
    segments = [meta for meta in base["segments"] if meta["name"] in homes]
    build = store.write(_manifest(config, models, base["settings"], articles, groups), new, kept=segments)
    manifest = store.manifest()
    if _to_merge(manifest):
        build = _merge(config, models, store, manifest, progress)
        manifest = store.manifest()
    n_new = sum(len(t.chunks) for _, t in new)
    return BuildResult(
        len(articles),
        sum(entry[2] for entry in articles.values()),
        embedded,
        n_new - embedded,
        time.perf_counter() - began,
        build,
        added=len(changed),
        removed=len(gone - {d.id for d in changed}),
        segments=len(manifest["segments"]),
        model_seconds=model_seconds,
    )


def _to_merge(manifest: dict) -> set[str]:
    """The segments to merge into one: the MERGE_COUNT smallest when there are more than
    MAX_SEGMENTS, and any with fewer than half its chunks still in the archive (old copies of
    removed or corrected articles would otherwise be searched, and kept on disk, for nothing)."""
    live = Counter()
    for segment, _, chunks in manifest["articles"].values():
        live[segment] += chunks
    segments = manifest["segments"]
    merging = {m["name"] for m in segments if 2 * live[m["name"]] < m["chunks"]}
    if len(segments) > MAX_SEGMENTS:
        merging |= {m["name"] for m in sorted(segments, key=lambda m: m["chunks"])[:MERGE_COUNT]}
    return merging


def _merge(config: Config, models: Models, store: IndexStore, manifest: dict, progress: bool) -> str:
    """A new build with the segments `_to_merge` chooses merged into one, their removed
    articles left out. Vectors come from the embedding cache."""
    merging = _to_merge(manifest)
    home = {doc_id: entry[0] for doc_id, entry in manifest["articles"].items()}
    documents = [doc for name in merging for doc in store.segment_documents(name) if home.get(doc.id) == name]
    documents = with_outlets(documents, manifest)
    kept = [m for m in manifest["segments"] if m["name"] not in merging]
    new, articles = [], dict(manifest["articles"])
    if documents:
        tables, _, _ = _tables(config, models, documents, progress)
        name = new_segment_name()
        new.append((name, tables))
        articles.update(_entries(documents, tables, name))
    return store.write(dict(manifest, articles=articles), new, kept=kept)


def has_build(config: Config) -> bool:
    """Whether the config's store holds a build."""
    store = open_store(config)
    try:
        return store.current() is not None
    finally:
        store.close()


def build_from_store(
    config: Config,
    models: Models,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
    verify: bool = True,
) -> BuildResult:
    """Index what the article store holds."""
    with open_articles(config) as store:
        documents = store.documents()
    if not documents and not has_build(config):
        raise BuildError(
            "no articles to index: add some to the seeds folder and run `sanad-index build`, "
            "or use `sanad-index add` or `update`"
        )
    result = build_index(config, models, documents, force=force, progress=progress, warn=warn, verify=verify)
    store = open_store(config)
    try:
        groups = (store.manifest() or {}).get("groups", {})
    finally:
        store.close()
    with open_articles(config) as articles:
        articles.set_groups({doc_id: (event, story) for doc_id, (event, story, _) in groups.items()})
    return result


def build_from_config(
    config: Config,
    models: Models,
    seeds: Path | None = None,
    corpus: Path | None = None,
    force: bool = False,
    progress: bool = False,
    warn: Callable[[str], None] = print,
) -> BuildResult:
    """Take the seeds folder (config's, or `seeds`), or a jsonl corpus, or both, into the article
    store as its "seeds" articles (replacing the previous ones), then index the store."""
    seeds_dir = seeds if seeds is not None else (None if corpus is not None else config.seeds_dir)
    try:
        documents = load_corpus(seeds_dir, corpus, warn)
    except FileNotFoundError as exc:
        raise BuildError(str(exc)) from None
    if not documents:
        raise BuildError("no documents to index: add articles to the seeds folder or pass --corpus")
    with open_articles(config) as store:
        for seed, why in store.sync_seeds(documents):
            warn(f"{seed}: skipped, {why}")
    return build_from_store(config, models, force=force, progress=progress, warn=warn)
