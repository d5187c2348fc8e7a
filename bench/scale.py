"""FAISS index types at scale: build time, memory, search latency and recall@10 against exact
search, for random vectors and for realistic ones, at 100k and 1M chunks of 384 dimensions.

"Realistic" vectors are real multilingual-e5-small chunk vectors (XQuAD and the seed, both
languages) as centres, with many noisy neighbours around each: the clustered shape of a
news archive, where random vectors have none. Queries are held-out vectors of the same kind.
The index types are built by the same factory the store uses (index/store/embedded.py).

    .venv/bin/python bench/scale.py [--sizes 100000 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.store import make_faiss_index  # noqa: E402

DIM = 384


def normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    return normalised(rng.standard_normal((n, DIM), dtype=np.float32))


def centres(rng: np.random.Generator) -> np.ndarray:
    """Real chunk vectors from the embedding cache, if a build or eval has filled it."""
    import sqlite3

    cache = ROOT / ".sanad" / "cache" / "embeddings.sqlite"
    if cache.is_file():
        rows = sqlite3.connect(cache).execute("SELECT vector FROM vectors").fetchall()
        vectors = [np.frombuffer(v, dtype=np.float32) for (v,) in rows]
        vectors = np.stack([v for v in vectors if v.shape[0] == DIM])
        if len(vectors) >= 1000:
            return vectors
    print("no real vectors cached (run bench/retrieval.py first); using random centres")
    return random_vectors(2000, rng)


def realistic_vectors(n: int, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Neighbours of real vectors: a random centre, plus noise of a random, moderate size."""
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        picks = base[rng.integers(0, len(base), m)]
        noise = rng.standard_normal((m, DIM), dtype=np.float32) * rng.uniform(0.01, 0.04, (m, 1)).astype(np.float32)
        out[start : start + m] = normalised(picks + noise)
    return out


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    faiss.omp_set_num_threads(2)  # building uses both cores
    began = time.perf_counter()
    index = make_faiss_index(vectors, kind)
    build = time.perf_counter() - began
    faiss.omp_set_num_threads(1)  # searching one question at a time, as Searcher does
    memory = len(faiss.serialize_index(index)) / 2**20
    times, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), 10)
        times.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    return {
        "build_s": build,
        "memory_mib": memory,
        "p50_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "recall@10": float(recall),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", nargs="+", default=["flat", "hnsw", "ivf"])
    parser.add_argument("--data", nargs="+", default=["realistic", "random"])
    parser.add_argument(
        "--skip",
        nargs="*",
        default=["random:1000000:hnsw"],
        help="data:size:index combinations not to run (HNSW on 1M random vectors takes very long "
        "and, as 100k shows, finds almost nothing)",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    base = centres(rng) if "realistic" in args.data else None
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads\n")
    print(f"{'data':<10}{'chunks':>9} {'index':<6}{'build s':>9}{'MiB':>8}{'p50 ms':>8}{'p95 ms':>8}{'recall@10':>10}")
    for data in args.data:
        for n in args.sizes:
            make = random_vectors if data == "random" else (lambda k, r: realistic_vectors(k, base, r))
            vectors, queries = make(n, rng), make(args.queries, rng)
            exact = faiss.IndexFlatIP(DIM)
            exact.add(vectors)
            truth = exact.search(queries, 10)[1]
            del exact
            for kind in args.kinds:
                if f"{data}:{n}:{kind}" in args.skip:
                    continue
                r = measure(kind, vectors, queries, truth)
                print(
                    f"{data:<10}{n:>9} {kind:<6}{r['build_s']:>9.1f}{r['memory_mib']:>8.0f}{r['p50_ms']:>8.2f}"
                    f"{r['p95_ms']:>8.2f}{r['recall@10']:>10.3f}",
                    flush=True,
                )
    print(
        f"\nreproduce: .venv/bin/python bench/scale.py --sizes {' '.join(map(str, args.sizes))} "
        f"--data {' '.join(args.data)}"
    )


if __name__ == "__main__":
    main()
