"""Memoized pure helpers inside moto and botocore: the same answers, without recomputing them per call.

Every AWS call of a run goes through botocore and moto in this process, so their fixed cost per call
bounds how fast the local cloud runs. A few of their helpers recompute, on every call, results that
depend only on their (hashable) arguments; ``memoized`` swaps them for cached versions while active:

- ``jsonpath_ng.ext.parse``: moto builds a PLY parser (about 1 ms) for each of the eight paths of the
  default input template, for every event it delivers to a target it handles itself (the rule that
  feeds the bus archive). The parsed expression is never mutated, so one per path string serves all.
- ``moto.core.responses.method_names_from_class``: ``inspect.getmembers`` of the response class, on
  every request; the classes do not change while the cloud runs.
- ``botocore.useragent.sanitize_user_agent_string_component``: a character-by-character rewrite of
  each of the ~20 User-Agent components, twice per call; the components are the same few strings.

Nothing here changes what a call sends, answers or raises.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from unittest import mock

_PATCHED = (
    ("jsonpath_ng.ext", "parse"),
    ("moto.core.responses", "method_names_from_class"),
    ("botocore.useragent", "sanitize_user_agent_string_component"),
)


@contextmanager
def memoized() -> Iterator[None]:
    """While active, the helpers above answer from a cache (unbounded: a run uses a handful of keys)."""
    import importlib  # noqa: PLC0415

    with ExitStack() as patches:
        for module_name, attribute in _PATCHED:
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
            patches.enter_context(mock.patch.object(module, attribute, functools.cache(original)))
        yield
