"""A throw-away data folder for a benchmark, sharing what is slow to make with the real one."""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from index.config import Config


@contextmanager
def scratch_config(config: Config, share_cache: bool = True) -> Iterator[Config]:
    """`config` with a temporary data folder that links to the converted model (and, unless a
    benchmark must embed from nothing, to the embedding cache)."""
    with tempfile.TemporaryDirectory(prefix="sanad-bench-") as tmp:
        data = Path(tmp)
        (data / "models").symlink_to(config.models_dir)
        if share_cache:
            config.cache_path.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has none yet
            (data / "cache").mkdir()
            (data / "cache" / "embeddings.sqlite").symlink_to(config.cache_path)
        yield dataclasses.replace(config, data_dir=data)


@contextmanager
def persistent_config(config: Config, name: str) -> Iterator[Config]:
    """`config` with a data folder kept across runs (<data_dir>/bench/<name>) so that a large
    benchmark index is built once; it shares the converted model and the embedding cache."""
    data = config.data_dir / "bench" / name
    (data / "cache").mkdir(parents=True, exist_ok=True)
    config.cache_path.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has none yet
    for link, target in (
        (data / "models", config.models_dir),
        (data / "cache" / "embeddings.sqlite", config.cache_path),
    ):
        if not link.is_symlink():
            link.symlink_to(target.resolve())
    yield dataclasses.replace(config, data_dir=data)


def with_search_settings(config: Config, args) -> Config:
    """`config` with the search.ranker and search.matcher a benchmark's --ranker / --matcher name."""
    for key in ("ranker", "matcher"):
        if getattr(args, key):
            config = dataclasses.replace(config, search=dataclasses.replace(config.search, **{key: getattr(args, key)}))
    return config
