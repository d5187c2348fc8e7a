import pytest

from index.config import ConfigError, load_config
from tests.conftest import ROOT


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_is_valid_and_matches_the_defaults():
    config = load_config(ROOT / "config.yaml")
    assert config.model.name == "default"
    assert config.data_dir == ROOT / ".sanad" and config.seeds_dir == ROOT / "seeds"
    assert config.bot.base_url == "https://api.telegram.org/bot"


@pytest.mark.parametrize(
    "text, key",
    [
        ("chunking:\n  max_tokenz: 100\n", "chunking.max_tokenz"),
        ("chunking:\n  max_tokens: many\n", "chunking.max_tokens"),
        ("chunking:\n  max_tokens: 4\n", "chunking.max_tokens"),
        ("store:\n  index_type: annoy\n", "store.index_type"),
        ("bot:\n  admins: [alice]\n", "bot.admins"),
        ("bot:\n  base_url: ftp://x\n", "bot.base_url"),
        ("search: 3\n", "search"),
        ("store:\n  postgres_url: postgresql://sanad@db/sanad?sslmode=require&password=x\n", "store.postgres_url"),
        ("sources:\n  allow_private_addresses: yes please\n", "sources.allow_private_addresses"),
        ("sources:\n  retry_minutes: 10000000\n", "sources.retry_minutes"),  # past a day: no doubling fits
        ("sources:\n  retry_minutes: -1\n", "sources.retry_minutes"),
        ("sources:\n  max_attempts: 0\n", "sources.max_attempts"),
        ("sources:\n  max_items_per_poll: 0\n", "sources.max_items_per_poll"),
        ("sources:\n  max_items_per_poll: 1000001\n", "sources.max_items_per_poll"),
        ("search:\n  matcher: on\n", "search.matcher"),  # true: which matcher is meant?
        ("colour: blue\n", "colour"),
    ],
)
def test_bad_keys_and_values_are_errors_naming_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_an_unquoted_off_turns_the_matcher_and_the_ranker_off(tmp_path):
    # YAML reads a bare off (or no, false) as false, not as the string "off"
    for key in ("matcher", "ranker"):
        for value in ("off", "false", "'off'"):
            config = load_config(write(tmp_path, f"search:\n  {key}: {value}\n"))
            assert getattr(config.search, key) == "off"


def test_feeds_are_taken_in_200_pages_a_poll_unless_the_config_says_otherwise(tmp_path):
    assert load_config(ROOT / "config.yaml").sources.max_items_per_poll == 200
    assert load_config(write(tmp_path, "sources:\n  max_items_per_poll: 50\n")).sources.max_items_per_poll == 50


def test_a_password_in_the_database_url_is_refused_without_being_repeated(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(write(tmp_path, "store:\n  postgres_url: postgresql://sanad:hunter2@db/sanad\n"))
    assert "hunter2" not in str(refused.value)


def test_only_public_hosts_are_fetched_unless_the_config_says_otherwise(tmp_path):
    assert not load_config(write(tmp_path, "")).sources.allow_private_addresses
    assert not load_config(ROOT / "config.yaml").sources.allow_private_addresses


def test_missing_keys_take_defaults_and_paths_are_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, "search:\n  top_k: 5\n"))
    assert config.search.top_k == 5 and config.search.candidates == 30
    assert config.data_dir == tmp_path / ".sanad"


def test_missing_and_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [\n"))
