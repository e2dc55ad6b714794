"""Route templates for requests a middleware refused before the router ran.

A 429 from the rate limiter or a 404 from tenant resolution never reaches the router, so nothing
leaves the matched route in the ASGI scope. `TemplateMatcher` maps such a raw path back to
the app's declared templates (``/api/v1/workflows/{workflow_id}``), so the refusal is counted
under the route it was aimed at; a path no template covers stays unmatched.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

__all__ = ["TemplateMatcher"]

_PARAMETER = re.compile(r"(\{[^}]+\})")


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


class TemplateMatcher:
    """Finds the declared template of a raw path (literal templates win over parametrised ones).

    Args:
        templates: The templates, or a callable returning them, read on first use (an app's
            route table is complete only once every router is included).
    """

    def __init__(self, templates: Iterable[str] | Callable[[], Iterable[str]]) -> None:
        self._source = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None
        self._lock = threading.Lock()

    def _table(self) -> list[tuple[re.Pattern[str], str]]:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    source = self._source() if callable(self._source) else self._source
                    # Fewer parameters first: /workflows/stats before /workflows/{id}.
                    ordered = sorted(set(source), key=lambda t: (t.count("{"), t))
                    self._compiled = [(_compile(t), t) for t in ordered]
        return self._compiled

    def match(self, path: str) -> str | None:
        """The template ``path`` instantiates.

        Args:
            path: A raw request path such as ``/api/v1/workflows/42``.

        Returns:
            The matching template, or ``None`` when no template covers ``path``.
        """
        for regex, template in self._table():
            if regex.fullmatch(path):
                return template
        return None
