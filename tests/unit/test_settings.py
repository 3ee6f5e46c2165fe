"""Environment settings: required, optional and bounded integers, with errors that name the variable."""

from __future__ import annotations

import pytest

from signal_platform import settings
from signal_platform.errors import ConfigurationError, SignalPlatformError


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BUS_NAME": "ingress"}, "ingress"),
        ({"BUS_NAME": "  ingress \n"}, "ingress"),
        ({"BUS_NAME": "ingress", "OTHER": ""}, "ingress"),
    ],
)
def test_required_set_returns_the_stripped_value(env: dict[str, str], expected: str) -> None:
    # GIVEN an environment with the variable set
    # WHEN it is read as required
    value = settings.required(env, "BUS_NAME")
    # THEN the trimmed value comes back
    assert value == expected


@pytest.mark.parametrize("env", [{}, {"BUS_NAME": ""}, {"BUS_NAME": "   "}, {"OTHER": "x"}])
def test_required_missing_or_blank_raises_configuration_error_naming_the_variable(
    env: dict[str, str],
) -> None:
    # GIVEN an environment without a usable value
    # WHEN it is read as required
    with pytest.raises(ConfigurationError, match=r"environment variable BUS_NAME is not set") as caught:
        settings.required(env, "BUS_NAME")
    # THEN the error is a configuration error (a deployment fault, not retryable)
    assert isinstance(caught.value, SignalPlatformError)
    assert caught.value.code == "configuration_error"
    assert caught.value.retryable is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"ENDPOINT_ID": ""}, None),
        ({"ENDPOINT_ID": " \t "}, None),
        ({"ENDPOINT_ID": "abc.xyz"}, "abc.xyz"),
        ({"ENDPOINT_ID": " abc.xyz "}, "abc.xyz"),
    ],
)
def test_optional_blank_is_none_and_set_is_stripped(env: dict[str, str], expected: str | None) -> None:
    # GIVEN an environment where the variable may be missing or blank
    # WHEN it is read as optional
    value = settings.optional(env, "ENDPOINT_ID")
    # THEN blank means "not set" (None) and a value is trimmed
    assert value == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 50),
        ("", 50),
        ("   ", 50),
        ("1", 1),
        (" 7 ", 7),
        ("100", 100),
    ],
)
def test_integer_valid_or_missing_returns_value_or_default(raw: str | None, expected: int) -> None:
    # GIVEN the variable missing, blank or a valid integer within [1, 100]
    env = {} if raw is None else {"MAX_SIGNALS": raw}
    # WHEN it is read as an integer
    value = settings.integer(env, "MAX_SIGNALS", 50, minimum=1, maximum=100)
    # THEN the parsed value, or the default when unset
    assert value == expected


@pytest.mark.parametrize("raw", ["abc", "1.5", "1e3", "ten", "0x10", "--1"])
def test_integer_not_an_integer_raises_configuration_error_naming_variable_and_value(raw: str) -> None:
    # GIVEN a value that is not a base-10 integer
    env = {"MAX_SIGNALS": raw}
    # WHEN it is read as an integer
    with pytest.raises(ConfigurationError) as caught:
        settings.integer(env, "MAX_SIGNALS", 50)
    # THEN the message names the variable and quotes the bad value
    message = str(caught.value)
    assert "MAX_SIGNALS" in message
    assert "must be an integer" in message
    assert repr(raw) in message


@pytest.mark.parametrize(
    ("raw", "minimum", "maximum"),
    [
        ("0", 1, 100),
        ("101", 1, 100),
        ("-1", 0, None),
        ("4", 5, None),
        ("1000001", 0, 1_000_000),
    ],
)
def test_integer_outside_bounds_raises_configuration_error_naming_variable_and_bounds(
    raw: str, minimum: int, maximum: int | None
) -> None:
    # GIVEN an integer outside the allowed range
    env = {"MAX_SIGNALS": raw}
    # WHEN it is read with bounds
    with pytest.raises(ConfigurationError) as caught:
        settings.integer(env, "MAX_SIGNALS", 50, minimum=minimum, maximum=maximum)
    # THEN the message names the variable, its value and the minimum
    message = str(caught.value)
    assert f"MAX_SIGNALS={int(raw)}" in message
    assert "outside" in message
    assert str(minimum) in message


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("100", 100), ("0", 0)])
def test_integer_at_the_bounds_is_accepted(raw: str, expected: int) -> None:
    # GIVEN values exactly on the inclusive bounds
    env = {"N": raw}
    minimum = 0 if expected == 0 else 1
    # WHEN read with [minimum, 100]
    value = settings.integer(env, "N", 5, minimum=minimum, maximum=100)
    # THEN they are accepted as is
    assert value == expected


def test_integer_default_minimum_rejects_negative_values() -> None:
    # GIVEN a negative value and no explicit minimum
    env = {"N": "-5"}
    # WHEN read as an integer
    # THEN the default minimum of 0 rejects it
    with pytest.raises(ConfigurationError, match=r"N=-5 is outside \[0, "):
        settings.integer(env, "N", 5)
