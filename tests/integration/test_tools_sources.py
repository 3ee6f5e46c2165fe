"""`python -m tools.sources`: register prints the key once, it works and is never stored; copy moves
a per-Region table's keys into the global table without overwriting any."""

from __future__ import annotations

import boto3
import pytest

from signal_platform import errors
from signal_platform.sources import Source, SourceRegistry, hash_secret, new_write_key
from tests.integration.conftest import TABLE_NAME, IngressPlatform
from tools import sources

OTHER_REGION = "us-east-1"


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


def test_rekey_replaces_a_revoked_key_and_enables_the_source(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a registered source whose key was stolen: revoked by disabling the source
    sources.main(["register", "kiosk", "--table", TABLE_NAME])
    old_key = capsys.readouterr().out.strip().splitlines()[-1]
    ingress.dynamodb.update_item(
        TableName=TABLE_NAME,
        Key={"source_id": {"S": "kiosk"}},
        UpdateExpression="SET enabled = :off",
        ExpressionAttributeValues={":off": {"BOOL": False}},
    )
    # WHEN it is given a new key
    exit_code = sources.main(["rekey", "kiosk", "--table", TABLE_NAME])
    new_key = capsys.readouterr().out.strip().splitlines()[-1]
    # THEN the new key authenticates (the source enabled again), the old one is refused, and the
    # source keeps what it had
    assert exit_code == 0
    registry = SourceRegistry(TABLE_NAME)
    assert registry.authenticate(new_key).source_id == "kiosk"
    with pytest.raises(errors.AuthenticationError):
        registry.authenticate(old_key)
    item = ingress.dynamodb.get_item(TableName=TABLE_NAME, Key={"source_id": {"S": "kiosk"}})["Item"]
    assert new_key.partition(".")[2] not in str(item)


def test_rekey_of_unknown_source_refused_and_creates_nothing(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = sources.main(["rekey", "no-such-source", "--table", TABLE_NAME])

    assert exit_code == 2
    assert "no source 'no-such-source'" in capsys.readouterr().err
    assert "Item" not in ingress.dynamodb.get_item(
        TableName=TABLE_NAME, Key={"source_id": {"S": "no-such-source"}}
    )


def test_copy_moves_secondary_keys_into_the_global_table_and_never_overwrites_one(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the secondary's old per-Region table: a source only it has, one the global table has with
    # the same key, and one registered in both Regions with different keys
    old = boto3.client("dynamodb", region_name=OTHER_REGION)
    old.create_table(
        TableName="old-sources",
        AttributeDefinitions=[{"AttributeName": "source_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "source_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    web_shop = Source.from_item(
        ingress.dynamodb.get_item(TableName=TABLE_NAME, Key={"source_id": {"S": "web-shop"}})["Item"]
    )
    write_key, only_there = new_write_key("kiosk-east", "registered in the secondary only")
    for source in (only_there, web_shop, Source("retired-kiosk", hash_secret("another"), True)):
        old.put_item(TableName="old-sources", Item=source.as_item())

    # WHEN it is copied into the global table
    exit_code = sources.main(
        ["copy", "--from-table", "old-sources", "--from-region", OTHER_REGION, "--table", TABLE_NAME]
    )
    printed = capsys.readouterr().out

    # THEN the secondary-only key now works against the global table, the shared one is untouched,
    # and the conflict is reported (exit 1) with the global table's key kept
    assert exit_code == 1
    assert "copied 1, already there 1, conflicts 1" in printed
    assert "CONFLICT retired-kiosk" in printed
    assert SourceRegistry(TABLE_NAME).authenticate(write_key).source_id == "kiosk-east"
    kept = ingress.dynamodb.get_item(TableName=TABLE_NAME, Key={"source_id": {"S": "retired-kiosk"}})["Item"]
    assert kept["key_hash"]["S"] == hash_secret("retired-secret")


def test_register_with_rate_and_set_rate_change_what_the_validator_reads(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a source registered with a rate limit
    assert sources.main(["register", "kiosk", "--rate", "25", "--table", TABLE_NAME]) == 0
    write_key = capsys.readouterr().out.strip().splitlines()[-1]
    assert SourceRegistry(TABLE_NAME).authenticate(write_key).rate_per_second == 25
    # WHEN its rate is changed, then reset to the default
    assert sources.main(["set-rate", "kiosk", "400", "--table", TABLE_NAME]) == 0
    changed = SourceRegistry(TABLE_NAME).authenticate(write_key).rate_per_second
    assert sources.main(["set-rate", "kiosk", "--default", "--table", TABLE_NAME]) == 0
    # THEN a fresh registry (a new container) reads each
    assert changed == 400
    assert SourceRegistry(TABLE_NAME).authenticate(write_key).rate_per_second is None


def test_set_rate_of_unknown_source_refused(
    ingress: IngressPlatform, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sources.main(["set-rate", "nobody", "10", "--table", TABLE_NAME]) == 2
    assert "no source" in capsys.readouterr().err
    assert (
        ingress.dynamodb.get_item(TableName=TABLE_NAME, Key={"source_id": {"S": "nobody"}}).get("Item")
        is None
    )
