"""`python -m tools.sources register`: the key is printed once, works, and is never stored."""

from __future__ import annotations

import pytest

from signal_platform.sources import SourceRegistry
from tests.integration.conftest import TABLE_NAME, IngressPlatform
from tools import sources


def test_register_prints_a_key_that_authenticates_and_is_not_stored(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the sources table / WHEN a new source is registered
    exit_code = sources.main(["register", "mobile-app", "--description", "iOS app", "--table", TABLE_NAME])
    printed = capsys.readouterr().out.strip().splitlines()
    # THEN the key on the last line authenticates as that source
    write_key = printed[-1]
    assert exit_code == 0
    assert SourceRegistry(TABLE_NAME).authenticate(write_key).source_id == "mobile-app"
    # AND the table holds only its hash
    item = ingress.dynamodb.get_item(TableName=TABLE_NAME, Key={"source_id": {"S": "mobile-app"}})["Item"]
    assert write_key.partition(".")[2] not in str(item)


def test_register_existing_source_refused(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = sources.main(["register", "web-shop", "--table", TABLE_NAME])
    assert exit_code == 2
    assert "already exists" in capsys.readouterr().err


def test_register_invalid_source_id_refused(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = sources.main(["register", "Web Shop!", "--table", TABLE_NAME])
    assert exit_code == 2
    assert "source id must match" in capsys.readouterr().err
