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
            (data / "cache").mkdir()
            (data / "cache" / "embeddings.sqlite").symlink_to(config.cache_path)
        yield dataclasses.replace(config, data_dir=data)
