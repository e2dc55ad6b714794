"""A small structural checker for PromQL expressions (not a full parser).

It verifies what typos usually break: balanced brackets, closed strings, well-formed label
matchers and range selectors, known function names, known operators; and it returns the metric
names an expression selects, so tests can check that they exist.
"""

from __future__ import annotations

import re

FUNCTIONS = frozenset(
    {
        "abs",
        "absent",
        "avg",
        "avg_over_time",
        "ceil",
        "clamp",
        "clamp_max",
        "clamp_min",
        "count",
        "count_over_time",
        "delta",
        "deriv",
        "exp",
        "floor",
        "group",
        "histogram_quantile",
        "idelta",
        "increase",
        "irate",
        "label_replace",
        "max",
        "max_over_time",
        "min",
        "min_over_time",
        "predict_linear",
        "quantile",
        "rate",
        "round",
        "scalar",
        "sort",
        "sort_desc",
        "stddev",
        "sum",
        "sum_over_time",
        "time",
        "topk",
        "bottomk",
        "vector",
    }
)
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "by",
        "without",
    }
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHER = re.compile(r'^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*"S"\s*$')
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$|^\$__(rate_)?interval$|^\$__range$")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"\d+(\.\d+)?(e[+-]?\d+)?")
_OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "+", "-", "*", "/", "%", "^", ",", "(", ")")


class PromQLShapeError(ValueError):
    pass


def metric_names(expr: str) -> set[str]:
    """The metric names selected by ``expr``; raises :class:`PromQLShapeError` when malformed."""
    if expr.count('"') % 2:
        raise PromQLShapeError(f"unclosed string in {expr!r}")
    text = _STRING.sub('"S"', expr)
    _check_balanced(text)
    text = re.sub(r"\{([^{}]*)\}", lambda m: _check_matchers(m.group(1)), text)
    text = re.sub(r"\[([^\[\]]*)\]", lambda m: _check_range(m.group(1)), text)
    text = _GROUPING.sub(lambda m: _check_grouping(m.group(2)), text)
    names: set[str] = set()
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        number = _NUMBER.match(text, position)
        if number and (
            position == 0 or not (text[position - 1].isalnum() or text[position - 1] == "_")
        ):
            position = number.end()
            continue
        ident = _IDENT.match(text, position)
        if ident:
            word = ident.group(0)
            position = ident.end()
            following = text[position:].lstrip()
            if word in KEYWORDS:
                continue
            if following.startswith("("):
                if word not in FUNCTIONS:
                    raise PromQLShapeError(f"unknown function {word!r} in {expr!r}")
            else:
                names.add(word)
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator is None:
            raise PromQLShapeError(f"unexpected {char!r} in {expr!r}")
        position += len(operator)
    if not names and "time()" not in expr.replace(" ", ""):
        raise PromQLShapeError(f"no metric selected in {expr!r}")
    return names


def _check_balanced(text: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in text:
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            raise PromQLShapeError(f"unbalanced {char!r} in {text!r}")
    if stack:
        raise PromQLShapeError(f"unclosed {stack[-1]!r} in {text!r}")


def _check_matchers(body: str) -> str:
    for matcher in filter(str.strip, body.split(",")):
        if not _MATCHER.match(matcher):
            raise PromQLShapeError(f"bad label matcher {matcher!r}")
    return ""


def _check_range(body: str) -> str:
    parts = body.split(":")
    if len(parts) > 2 or not _DURATION.match(parts[0].strip()):
        raise PromQLShapeError(f"bad range selector [{body}]")
    if len(parts) == 2 and parts[1].strip() and not _DURATION.match(parts[1].strip()):
        raise PromQLShapeError(f"bad subquery step [{body}]")
    return ""


def _check_grouping(body: str) -> str:
    for label in filter(str.strip, body.split(",")):
        if not re.match(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*$", label):
            raise PromQLShapeError(f"bad grouping label {label!r}")
    return " "
