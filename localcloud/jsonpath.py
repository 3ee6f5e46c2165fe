"""The JSONPath subset EventBridge settings use: ``$``, ``$.a.b``, ``$.a[0]``, ``$['a-b']``.

Used for ``KinesisParameters.PartitionKeyPath``, ``InputPath`` and ``InputPathsMap`` of rule targets
and the ``<$.data>`` placeholders of Pipe input templates. Anything else fails loudly.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final

_TOKEN: Final = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class JsonPathError(ValueError):
    pass


class Missing:
    """The path leads nowhere in this document."""


MISSING: Final = Missing()


@cache
def compile_path(path: str) -> tuple[str | int, ...]:
    if not path.startswith("$"):
        raise JsonPathError(f"JSONPath must start with $: {path!r}")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None:
            raise JsonPathError(f"unsupported JSONPath {path!r} at {path[position:]!r}")
        name, index, quoted, double_quoted = match.groups()
        steps.append(int(index) if index is not None else (name or quoted or double_quoted or ""))
        position = match.end()
    return tuple(steps)


def find(document: Any, path: str) -> Any:
    """The value at ``path``, or ``MISSING``."""
    node = document
    for step in compile_path(path):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return MISSING
            node = node[step]
    return node
