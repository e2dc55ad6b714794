"""The one way RelayPoint reads environment variables: pydantic-settings, plus shared field types.

Every package that reads the environment declares a ``pydantic_settings.BaseSettings`` class and
builds it with `read_settings`, which turns a `pydantic.ValidationError` into a
`ConfigurationError` (or a subclass the package passes) whose message names the environment
variable and the value it held: ``RELAYPOINT_PORT='http' is not a port number``. `Flag` and
`CsvList` are the field types for booleans and comma-separated lists, so ``true``/``yes``/``on``
and ``a, b`` mean the same in every package.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, ValidationError
from pydantic_settings import BaseSettings, NoDecode

from relaypoint_core.errors import ConfigurationError

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "CsvList",
    "Flag",
    "describe_settings_error",
    "environment_variables",
    "parse_flag",
    "read_settings",
    "split_csv",
    "variable_name",
]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""Strings `parse_flag` reads as ``True`` (compared stripped and lower-cased)."""
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
"""Strings `parse_flag` reads as ``False``; an empty variable is ``False``, not unset."""

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def parse_flag(value: object) -> object:
    """Read a boolean the way every RelayPoint variable does.

    Args:
        value: A string from the environment, or any other value (returned unchanged for
            pydantic to validate).

    Returns:
        ``True`` or ``False`` for a string in `TRUE_WORDS` / `FALSE_WORDS`, else ``value``.

    Raises:
        ValueError: A string that is neither (``maybe``).
    """
    if not isinstance(value, str):
        return value
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("is not a boolean; use true or false")


def split_csv(value: object) -> object:
    """Split ``"a, b,,c"`` into ``["a", "b", "c"]``; any non-string is returned unchanged.

    Args:
        value: A comma-separated string, or a list given as a keyword argument.

    Returns:
        The stripped, non-empty items of a string, else ``value``.
    """
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


Flag = Annotated[bool, BeforeValidator(parse_flag)]
"""A boolean field read with `parse_flag` (``1/true/yes/on``, ``0/false/no/off`` or empty)."""
CsvList = Annotated[list[str], NoDecode, BeforeValidator(split_csv)]
"""A list field read from one comma-separated variable (not JSON)."""


def variable_name(settings_class: type[BaseSettings], field: str) -> str:
    """The environment variable a field of ``settings_class`` is read from.

    Args:
        settings_class: A pydantic-settings class.
        field: One of its field names.

    Returns:
        The field's string ``validation_alias`` when it has one, else ``env_prefix`` plus the
        field name (upper-cased unless the class is case-sensitive), else ``field`` itself
        when it is not a field.
    """
    info = settings_class.model_fields.get(field)
    if info is None:
        return field
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    config = settings_class.model_config
    name = f"{config.get('env_prefix', '')}{field}"
    return name if config.get("case_sensitive", False) else name.upper()


def environment_variables(settings_class: type[BaseSettings]) -> dict[str, str]:
    """Each variable ``settings_class`` reads, with its field's description (for docs and tests).

    Args:
        settings_class: A pydantic-settings class whose fields carry a ``description``.

    Returns:
        ``{variable name: description}`` in field order (an undescribed field maps to ``""``).
    """
    return {
        variable_name(settings_class, name): info.description or ""
        for name, info in settings_class.model_fields.items()
    }


def _reason(error: Any) -> str:
    message = str(error["msg"])
    if error["type"] == "value_error":
        return message.removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else message


def describe_settings_error(exc: ValidationError, settings_class: type[BaseSettings]) -> str:
    """One line per problem, each naming the variable and the value it held.

    Args:
        exc: What building ``settings_class`` raised.
        settings_class: The class being built (to map fields to variable names).

    Returns:
        ``"NAME='value' reason; ..."``; a check across several fields (no single variable) is
        reported by its message alone.
    """
    parts = []
    for error in exc.errors():
        location = error["loc"]
        reason = _reason(error)
        if not location:
            parts.append(reason)
            continue
        name = variable_name(settings_class, str(location[0]))
        if error["type"] == "extra_forbidden":
            parts.append(f"{name}: unknown setting")
        elif "input" in error and not isinstance(error["input"], dict):
            parts.append(f"{name}={error['input']!r} {reason}")
        else:
            parts.append(f"{name}: {reason}")
    return "; ".join(parts)


def read_settings(
    settings_class: type[SettingsT],
    *,
    what: str = "configuration",
    error: type[ConfigurationError] = ConfigurationError,
    **overrides: Any,
) -> SettingsT:
    """Build ``settings_class`` from the environment and ``overrides`` or fail with a clear error.

    Args:
        settings_class: The pydantic-settings class to build.
        what: What is configured, for the message (``"invalid {what}: ..."``).
        error: The `ConfigurationError` subclass to raise.
        **overrides: Field values that win over the environment.

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: (or ``error``) a variable does not parse or is out of range; the
            message names each variable and its value.
    """
    try:
        return settings_class(**overrides)
    except ValidationError as exc:
        raise error(f"invalid {what}: {describe_settings_error(exc, settings_class)}") from exc
