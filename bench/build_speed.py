"""Build throughput: a fresh build with an empty embedding cache (all vectors included: the
model's and the second model's, for chunks and their sentences), then a rebuild of the
unchanged corpus, then a forced rebuild served from the cache. Reported in articles and words
per second (the chunk count depends on the chunking) and peak memory.

With --floor, first the physical floor: the model alone over the build's chunk texts, once,
as a build feeds it (sorted by length, the same batches, runtime and threads); the fresh build
is then reported as a multiple of it.

    .venv/bin/python bench/build_speed.py [--corpus ../shared/data/xquad/corpus.ar.jsonl] [--docs 120] [--floor]
    .venv/bin/python bench/build_speed.py --corpus ../shared/data/news_ar/articles.jsonl --docs 0 --floor
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_config  # noqa: E402

from index.build import build_index, chunk_documents  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import CACHE_BATCH, load_models  # noqa: E402
from index.normalize import model_text  # noqa: E402


def floor(config, models, docs) -> tuple[float, int, int]:
    """Seconds for one pass of the model over the chunk texts a build would embed, the chunks,
    and their tokens."""
    m = models.primary
    texts = [model_text(c.text) for c in chunk_documents(config, models, docs)]
    texts.sort(key=len)  # as embed_cached orders them
    began = time.perf_counter()
    for start in range(0, len(texts), CACHE_BATCH):
        m.embed_passages(texts[start : start + CACHE_BATCH])
    return time.perf_counter() - began, len(texts), sum(m.count_tokens(texts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "xquad" / "corpus.ar.jsonl")
    parser.add_argument("--docs", type=int, default=120, help="the first N articles of the corpus (0: all)")
    parser.add_argument("--floor", action="store_true", help="measure one pass of the model over the chunks first")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], help="override model.backend")
    args = parser.parse_args()
    config = load_config(args.config)
    if args.backend:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, backend=args.backend))
    models = load_models(config)
    models.warm_up()  # model loading is not build throughput
    docs = load_corpus(corpus=args.corpus, warn=lambda _: None)[: args.docs or None]
    words = sum(len(d.text.split()) for d in docs)
    floor_s = None
    if args.floor:
        floor_s, n_chunks, n_tokens = floor(config, models, docs)
        print(
            f"floor: the model once over {n_chunks} chunk texts ({n_tokens} tokens): {floor_s:.1f} s, "
            f"{n_tokens / floor_s:.0f} tokens/s",
            flush=True,
        )
    with scratch_config(config, share_cache=False) as cfg:
        fresh = build_index(cfg, models, docs)
        began = time.perf_counter()
        unchanged = build_index(cfg, models, docs)
        unchanged_s = time.perf_counter() - began
        forced = build_index(cfg, models, docs, force=True)
        manifest = json.loads((cfg.index_dir / "builds" / fresh.build / "manifest.json").read_text())
    tokens = sum(models.primary.count_tokens([d.text for d in docs])) / max(fresh.chunks, 1)
    print(
        f"backend {config.model.backend}, second model {config.model.second or 'none'}; {len(docs)} documents "
        f"from {args.corpus.name}: {fresh.chunks} chunks (~{tokens:.0f} tokens each before overlap), "
        f"{manifest['sentences']} sentence units\n"
    )
    print(
        f"fresh build:       {fresh.seconds:7.1f} s  {len(docs) / fresh.seconds:6.2f} articles/s  "
        f"{words / fresh.seconds:6.0f} words/s  {fresh.chunks / fresh.seconds:6.1f} chunks/s "
        f"({fresh.embedded} embedded)"
    )
    if floor_s:
        print(f"                   {fresh.seconds / floor_s:.2f} x the floor ({floor_s:.1f} s)")
    print(f"unchanged rebuild: {unchanged_s:7.2f} s  ({unchanged.summary()})")
    print(f"forced rebuild:    {forced.seconds:7.2f} s  ({forced.embedded} embedded, {forced.cached} cached)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS) of this process: {peak:.0f} MB")
    flags = (f" --backend {args.backend}" if args.backend else "") + (" --floor" if args.floor else "")
    print(f"\nreproduce: .venv/bin/python bench/build_speed.py --corpus {args.corpus} --docs {args.docs}{flags}")


if __name__ == "__main__":
    main()
