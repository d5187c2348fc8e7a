"""Build throughput: a fresh build with an empty embedding cache (chunks per second, all
vectors included: the model's and the second model's, for chunks and their sentences), then
a rebuild of the unchanged corpus, then a forced rebuild served from the cache.

    .venv/bin/python bench/build_speed.py [--corpus ../shared/data/xquad/corpus.ar.jsonl] [--docs 120]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_config  # noqa: E402

from index.build import build_index  # noqa: E402
from index.config import load_config  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embed import load_models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "xquad" / "corpus.ar.jsonl")
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--backend", choices=["torch", "onnx", "onnx-int8"], help="override model.backend")
    args = parser.parse_args()
    config = load_config(args.config)
    if args.backend:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, backend=args.backend))
    models = load_models(config)
    models.warm_up()  # model loading is not build throughput
    docs = load_corpus(corpus=args.corpus, warn=lambda _: None)[: args.docs]
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
        f"fresh build:       {fresh.seconds:7.1f} s  {fresh.chunks / fresh.seconds:6.1f} chunks/s "
        f"({fresh.embedded} embedded)"
    )
    print(f"unchanged rebuild: {unchanged_s:7.2f} s  ({unchanged.summary()})")
    print(f"forced rebuild:    {forced.seconds:7.2f} s  ({forced.embedded} embedded, {forced.cached} cached)")
    backend = f" --backend {args.backend}" if args.backend else ""
    print(f"\nreproduce: .venv/bin/python bench/build_speed.py --corpus {args.corpus} --docs {args.docs}{backend}")


if __name__ == "__main__":
    main()
