"""The enrichment's typed settings: names, defaults, bounds and errors that name the variable."""

from __future__ import annotations

import pytest

from enrichment.settings import EnrichmentSettings
from signal_platform.errors import ConfigurationError

SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:signals-signing-key"
REQUIRED = {
    "DATA_PLATFORM_BUS_NAME": "signals-data-platform",
    "IDEMPOTENCY_TABLE_NAME": "signals-idempotency",
    "QUARANTINE_BUCKET_NAME": "signals-quarantine",
    "SIGNING_KEY_SECRET_ARN": SECRET_ARN,
}


def test_settings_with_required_only_take_the_defaults() -> None:
    # GIVEN only the required variables / WHEN read / THEN the documented defaults apply
    settings = EnrichmentSettings.from_env(REQUIRED)
    assert settings == EnrichmentSettings(
        data_platform_bus_name="signals-data-platform",
        idempotency_table_name="signals-idempotency",
        idempotency_expiry_seconds=172_800,
        quarantine_bucket_name="signals-quarantine",
        signing_key_secret_arn=SECRET_ARN,
        signing_key_parameter_name=None,
        max_signals_per_entry=50,
        store_raw_ip=False,
        group_by_type=False,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("", False)],
)
def test_settings_store_raw_ip_flag(raw: str, expected: bool) -> None:
    assert EnrichmentSettings.from_env({**REQUIRED, "STORE_RAW_IP": raw}).store_raw_ip is expected


def test_settings_explicit_values_are_read() -> None:
    env = {**REQUIRED, "IDEMPOTENCY_EXPIRY_SECONDS": "86400", "MAX_SIGNALS_PER_ENTRY": "1"}
    settings = EnrichmentSettings.from_env(env)
    assert (settings.idempotency_expiry_seconds, settings.max_signals_per_entry) == (86_400, 1)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"DATA_PLATFORM_BUS_NAME": ""}, "DATA_PLATFORM_BUS_NAME"),
        ({"IDEMPOTENCY_TABLE_NAME": " "}, "IDEMPOTENCY_TABLE_NAME"),
        ({"QUARANTINE_BUCKET_NAME": ""}, "QUARANTINE_BUCKET_NAME"),
        ({"SIGNING_KEY_SECRET_ARN": ""}, "SIGNING_KEY_SECRET_ARN"),
        ({"SIGNING_KEY_PARAMETER_NAME": "/signals/key"}, "SIGNING_KEY_PARAMETER_NAME"),
        ({"IDEMPOTENCY_EXPIRY_SECONDS": "3600"}, "IDEMPOTENCY_EXPIRY_SECONDS"),
        ({"IDEMPOTENCY_EXPIRY_SECONDS": "two days"}, "IDEMPOTENCY_EXPIRY_SECONDS"),
        ({"MAX_SIGNALS_PER_ENTRY": "0"}, "MAX_SIGNALS_PER_ENTRY"),
        ({"MAX_SIGNALS_PER_ENTRY": "501"}, "MAX_SIGNALS_PER_ENTRY"),
        ({"STORE_RAW_IP": "maybe"}, "STORE_RAW_IP"),
    ],
    ids=[
        "no-bus",
        "blank-table",
        "no-bucket",
        "no-key",
        "two-keys",
        "expiry-short",
        "expiry-text",
        "zero-signals",
        "too-many-signals",
        "bad-flag",
    ],
)
def test_settings_missing_or_bad_value_names_the_variable(change: dict[str, str], name: str) -> None:
    # GIVEN one variable missing or malformed / WHEN read / THEN the error names it
    with pytest.raises(ConfigurationError, match=name):
        EnrichmentSettings.from_env({**REQUIRED, **change})
