"""Parse rate-limit response headers with http_sfv (RFC 8941), the way a strict client would."""

from __future__ import annotations

from collections.abc import Mapping

import http_sfv

__all__ = ["parse_all", "parse_item", "parse_list"]


def parse_list(value: str) -> dict[str, dict[str, object]]:
    """A structured-field List of String items: item value -> its parameters."""
    parsed = http_sfv.List()
    parsed.parse(value.encode("ascii"))
    items: dict[str, dict[str, object]] = {}
    for item in parsed:
        assert isinstance(item, http_sfv.Item)
        assert isinstance(item.value, str), "policy names are sf-strings"
        items[item.value] = dict(item.params)
    return items


def parse_item(value: str) -> object:
    """A structured-field Item (an Integer or a Token for the legacy headers)."""
    parsed = http_sfv.Item()
    parsed.parse(value.encode("ascii"))
    return parsed.value


def parse_all(headers: Mapping[str, str]) -> dict[str, object]:
    """Every rate-limit header of a response, parsed; a header that does not parse fails."""
    parsed: dict[str, object] = {}
    for name in ("ratelimit-policy", "ratelimit"):
        if name in headers:
            parsed[name] = parse_list(headers[name])
    for name in (
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-tier",
    ):
        if name in headers:
            parsed[name] = parse_item(headers[name])
    return parsed
