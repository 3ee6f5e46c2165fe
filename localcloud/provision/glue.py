"""Glue databases and tables (the lake's catalogue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def database(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    database = dict(props["DatabaseInput"])
    database.setdefault("Name", p.names.name(logical_id, lowercase=True).replace("-", "_"))
    p.client("glue").create_database(DatabaseInput=database)
    return Resource(logical_id, "AWS::Glue::Database", props, database["Name"])


def table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    table = dict(props["TableInput"])
    table.setdefault("Name", p.names.name(logical_id, lowercase=True).replace("-", "_"))
    p.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
    return Resource(logical_id, "AWS::Glue::Table", props, table["Name"])
