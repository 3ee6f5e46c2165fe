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
- ``moto.dynamodb.parsing.expressions.UpdateExpressionParser.make``: tokenises and parses an
  UpdateItem's expression twice per call (once to check its names, once to apply it), ~0.2 ms each;
  a run uses a handful of expressions. moto never changes a parsed tree: it reads it, and the
  validator that rewrites it works on a deep copy.
- ``moto.dynamodb.comparisons.ConditionExpressionParser._lex_condition_expression``: splits a
  condition expression into tokens with a dozen regular expressions, twice per conditional write.
  The tokens (immutable named tuples) depend on the expression only; each call gets its own deque.

One random helper drawn faster: ``moto``'s ``get_random_string`` (every DynamoDB answer carries a
52-character request id from it) picks each character with ``Random.choice``; ``Random.choices`` picks
them from the same alphabet, uniformly, from the same seedable generator, at a fifth of the cost.

And one parser swapped for a faster one with the same results: moto's EventBridge parses each entry's
Detail once per rule of the bus and again to match each pattern, with the standard library. orjson
parses the same JSON to equal values; what it refuses (NaN, out-of-range floats, lone surrogates) and
any text with a run of 19 or more digits (orjson reads integers beyond 64 bits as floats) go to the
standard library as before, so errors and edge cases answer as they did. The search for such a run
costs more than orjson's parse, so its answer is kept for the last few texts (each is parsed 4-5 times).

Nothing here changes what a call sends, answers or raises.
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any, Final
from unittest import mock

import orjson

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
        parser = importlib.import_module("moto.dynamodb.parsing.expressions").UpdateExpressionParser
        patches.enter_context(mock.patch.object(parser, "make", staticmethod(functools.cache(parser.make))))
        condition = importlib.import_module("moto.dynamodb.comparisons").ConditionExpressionParser
        lex = _lex_once(condition._lex_condition_expression)
        patches.enter_context(mock.patch.object(condition, "_lex_condition_expression", lex))
        moto_random = importlib.import_module("moto.moto_api._internal.moto_random").MotoRandom
        patches.enter_context(mock.patch.object(moto_random, "get_random_string", _random_string))
        events_models = importlib.import_module("moto.events.models")
        patches.enter_context(mock.patch.object(events_models, "json", _JSON_WITH_ORJSON_LOADS))
        yield


def _lex_once(lex: Callable[[Any], deque[Any]]) -> Callable[[Any], deque[Any]]:
    tokens: dict[str, tuple[Any, ...]] = {}

    def lexed(parser: Any) -> deque[Any]:
        expression = parser.condition_expression
        if expression not in tokens:
            tokens[expression] = tuple(lex(parser))  # a bad expression raises, and is not kept
        return deque(tokens[expression])  # the parser consumes its deque

    return lexed


def _random_string(
    generator: random.Random, length: int = 20, include_digits: bool = True, lower_case: bool = False
) -> str:
    alphabet = string.ascii_letters + (string.digits if include_digits else "")
    text = "".join(generator.choices(alphabet, k=length))
    return text.lower() if lower_case else text


def _loads(text: str | bytes, **kwargs: Any) -> Any:
    if isinstance(text, str) and not kwargs and _short_numbers(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text, **kwargs)


@functools.lru_cache(maxsize=256)
def _short_numbers(text: str) -> bool:
    return _LONG_DIGITS.search(text) is None


_LONG_DIGITS: Final = re.compile(r"[0-9]{19}")  # JSON numbers are ASCII digits
_JSON_WITH_ORJSON_LOADS = SimpleNamespace(**{**vars(json), "loads": _loads})
