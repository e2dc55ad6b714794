"""One way to read the environment: shared field types and one error translation for every package."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from relaypoint_core.config import (
    DEFAULT_DATABASE_URL,
    RelayPointSettings,
    configured_database_url,
)
from relaypoint_core.environment import (
    FALSE_WORDS,
    TRUE_WORDS,
    CsvList,
    Flag,
    environment_variables,
    parse_flag,
    read_settings,
    split_csv,
    variable_name,
)
from relaypoint_core.errors import ConfigurationError


class _Sample(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RPTEST_", extra="ignore")

    enabled: Flag = Field(False, description="turn it on")
    hosts: CsvList = Field(default_factory=list, description="hosts, comma-separated")
    limit: int = Field(3, ge=1, le=10)
    url: str = Field("x", validation_alias="RPTEST_SOMETHING_URL")


class _Odd(ConfigurationError):
    pass


@given(
    st.sampled_from(sorted(TRUE_WORDS | FALSE_WORDS)),
    st.sampled_from(["", " ", "\t"]),
    st.booleans(),
)
def test_flag_words_parse_whatever_their_case_and_padding(word: str, pad: str, upper: bool) -> None:
    raw = pad + (word.upper() if upper else word) + pad
    assert parse_flag(raw) is (word in TRUE_WORDS)


@given(st.text().filter(lambda s: s.strip().lower() not in TRUE_WORDS | FALSE_WORDS))
def test_any_other_word_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a boolean"):
        parse_flag(raw)


@given(st.lists(st.text(alphabet="abc.:*-", min_size=1), max_size=5))
def test_split_csv_round_trips_items_without_commas(items: list[str]) -> None:
    assert split_csv(" , ".join(items) + ",") == items
    assert split_csv(items) is items


def test_read_settings_names_the_variable_and_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPTEST_ENABLED", "maybe")
    monkeypatch.setenv("RPTEST_LIMIT", "11")
    with pytest.raises(_Odd) as caught:
        read_settings(_Sample, what="sample configuration", error=_Odd)
    message = str(caught.value)
    assert message.startswith("invalid sample configuration: ")
    assert "RPTEST_ENABLED='maybe' is not a boolean; use true or false" in message
    assert "RPTEST_LIMIT='11' input should be less than or equal to 10" in message


def test_read_settings_parses_flags_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPTEST_ENABLED", " Yes ")
    monkeypatch.setenv("RPTEST_HOSTS", "a.example, b.example,,")
    settings = read_settings(_Sample, limit=4)
    assert settings.enabled is True
    assert settings.hosts == ["a.example", "b.example"]
    assert settings.limit == 4  # an override wins over the environment


def test_variable_names_follow_prefix_and_alias() -> None:
    assert variable_name(_Sample, "enabled") == "RPTEST_ENABLED"
    assert variable_name(_Sample, "url") == "RPTEST_SOMETHING_URL"
    assert variable_name(RelayPointSettings, "SECRET_KEY") == "SECRET_KEY"
    assert environment_variables(_Sample) == {
        "RPTEST_ENABLED": "turn it on",
        "RPTEST_HOSTS": "hosts, comma-separated",
        "RPTEST_LIMIT": "",
        "RPTEST_SOMETHING_URL": "",
    }


def test_core_booleans_read_like_every_other_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("ENABLE_CACHING", "maybe")
    with pytest.raises(ConfigurationError, match="ENABLE_CACHING='maybe' is not a boolean"):
        read_settings(RelayPointSettings)
    monkeypatch.setenv("ENABLE_CACHING", "off")
    assert read_settings(RelayPointSettings).ENABLE_CACHING is False


def test_the_secret_key_is_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "k3J9-xQ2_vLmN8pR4tY7wZ1aB5cD6eF0gH2iJ4kL6mN8oP"
    settings = RelayPointSettings(ENVIRONMENT="test", SECRET_KEY=secret)
    assert secret not in repr(settings)


def test_one_default_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert configured_database_url() == DEFAULT_DATABASE_URL
    assert RelayPointSettings(ENVIRONMENT="test").DATABASE_URL == DEFAULT_DATABASE_URL
    monkeypatch.setenv("DATABASE_URL", "")
    assert configured_database_url() == DEFAULT_DATABASE_URL
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/x")
    assert configured_database_url() == "postgresql+asyncpg://db/x"
