"""The S3 writer's settings: required bucket, prefix defaults and checks, bounded tuning knobs."""

from __future__ import annotations

import pytest

from s3_writer.settings import S3WriterSettings
from signal_platform.errors import ConfigurationError


def test_settings_defaults() -> None:
    settings = S3WriterSettings.from_env(
        {"LAKE_BUCKET_NAME": "signals-lake", "LAKE_LEDGER_TABLE_NAME": "signals-lake-ledger"}
    )
    assert settings == S3WriterSettings(
        lake_bucket_name="signals-lake",
        lake_ledger_table_name="signals-lake-ledger",
        ledger_retention_days=35,
        lake_prefix="events",
        bad_prefix="bad",
        gzip_level=6,
        write_concurrency=8,
    )


def test_settings_prefixes_lose_surrounding_slashes() -> None:
    settings = S3WriterSettings.from_env(
        {
            "LAKE_BUCKET_NAME": "b",
            "LAKE_LEDGER_TABLE_NAME": "t",
            "LAKE_PREFIX": "/lake/events/",
            "BAD_PREFIX": "lake/bad/",
        }
    )
    assert (settings.lake_prefix, settings.bad_prefix) == ("lake/events", "lake/bad")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "LAKE_BUCKET_NAME"),
        ({"LAKE_BUCKET_NAME": "b"}, "LAKE_LEDGER_TABLE_NAME"),
        (
            {"LAKE_BUCKET_NAME": "b", "LAKE_LEDGER_TABLE_NAME": "t", "LEDGER_RETENTION_DAYS": "0"},
            "LEDGER_RETENTION_DAYS",
        ),
        (
            {"LAKE_BUCKET_NAME": "b", "LAKE_LEDGER_TABLE_NAME": "t", "LAKE_PREFIX": "events/../x"},
            "LAKE_PREFIX",
        ),
        ({"LAKE_BUCKET_NAME": "b", "LAKE_LEDGER_TABLE_NAME": "t", "BAD_PREFIX": "bad prefix"}, "BAD_PREFIX"),
        (
            {
                "LAKE_BUCKET_NAME": "b",
                "LAKE_LEDGER_TABLE_NAME": "t",
                "LAKE_PREFIX": "events",
                "BAD_PREFIX": "events/bad",
            },
            "contain one another",
        ),
        ({"LAKE_BUCKET_NAME": "b", "LAKE_LEDGER_TABLE_NAME": "t", "GZIP_LEVEL": "11"}, "GZIP_LEVEL"),
        (
            {"LAKE_BUCKET_NAME": "b", "LAKE_LEDGER_TABLE_NAME": "t", "WRITE_CONCURRENCY": "0"},
            "WRITE_CONCURRENCY",
        ),
    ],
)
def test_settings_invalid_environment_raises_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        S3WriterSettings.from_env(environ)
