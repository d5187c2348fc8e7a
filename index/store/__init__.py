"""Where the index lives, behind one interface: the embedded store (build folders on disk,
FAISS: the default, nothing to install), or a PostgreSQL database that several bot workers
share. Building, searching, updating, removing and the bot use only `IndexStore` and `Index`;
none of them knows which store it has.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from ..config import Config
from ..documents import Document
from .embedded import EmbeddedStore, current_build, make_faiss_index, open_index
from .segments import (
    FORMAT_VERSION,
    LANGS,
    ArticleVectors,
    BuildBusy,
    BuildTables,
    CandidateVectors,
    Index,
    IndexUnavailable,
    Segment,
    new_segment_name,
    with_outlets,
)

__all__ = [
    "FORMAT_VERSION",
    "ArticleVectors",
    "LANGS",
    "BuildBusy",
    "BuildTables",
    "CandidateVectors",
    "EmbeddedStore",
    "Index",
    "IndexStore",
    "IndexUnavailable",
    "Segment",
    "current_build",
    "make_faiss_index",
    "new_segment_name",
    "with_outlets",
    "open_index",
    "open_store",
]


class IndexStore(Protocol):
    where: str  # for messages: the folder, or the database (no password)

    def current(self) -> str | None:
        """The current build's id (None: nothing built yet); cheap enough to poll."""

    def manifest(self) -> dict | None:
        """The current build's manifest (None: nothing built); IndexUnavailable if unreadable."""

    def verify(self) -> str | None:
        """What is wrong with the current build, or None if it is sound."""

    def write(self, manifest: dict, new: list[tuple[str, BuildTables]], kept: list[dict] = ()) -> str:
        """Make a new build current, at once for every reader: the current build's `kept`
        segments and the `new` ones (name, tables), described by `manifest`. Returns its id."""

    def segment_documents(self, name: str) -> list[Document]:
        """Every document a segment of the current build holds (replaced ones too), as written:
        the outlets their sources named live in the build's groups (segments.with_outlets)."""

    def open(self, model_id: str | None = None, second_model_id=..., reuse: Index | None = None) -> Index:
        """The current build, for searching; segments already open in `reuse` are shared."""

    def lock(self) -> AbstractContextManager:
        """Held while a build is written: one at a time (BuildBusy otherwise)."""

    def close(self) -> None: ...


def open_store(config: Config, index_dir: Path | None = None) -> IndexStore:
    """The store `config` names; an explicit `index_dir` is always the embedded store
    (evaluations build throwaway indexes there)."""
    if index_dir is None and config.store.backend == "postgres":
        from .postgres import PostgresStore  # psycopg is loaded only by those who use it

        return PostgresStore.from_config(config)
    return EmbeddedStore(index_dir or config.index_dir, config.store.index_type, config.store.keep_builds)
