"""DynamoDB global tables (``AWS::DynamoDB::GlobalTable``) between the Regions of a cloud.

The stack that owns the global table created it in its own Region (``provision``); here its replica
appears in every other Region its ``Replicas`` list names, with the same name and keys, and every
write in any replica reaches the others ``lag`` seconds later. As AWS documents it: "any changes
made to any item in any replica table are replicated to all the other replicas within the same
global table"; replication is asynchronous, usually within a second; conflicting writes are settled
"last writer wins". A replica whose Region is down receives the write once it is back (DynamoDB
replicates changes from its stream, whose records it keeps for 24 hours).

Writes are seen in moto's DynamoDB backend (put, update and delete, which also carry transactions
and batch writes), whoever makes them; what is copied is the item as it is in the source Region when
the copy is due (or its absence), written straight into the replica's moto table so the copy is not
seen as a new write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from localcloud.due_queue import DueQueue
from localcloud.faults import Faults
from localcloud.provision import Stack
from localcloud.services import Services

DEFAULT_LAG: Final = 1.0
RETRY_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class GlobalTableSpec:
    name: str
    regions: tuple[str, ...]

    @classmethod
    def of_stack(cls, stack: Stack) -> list[GlobalTableSpec]:
        specs = []
        for table in stack.of_type("AWS::DynamoDB::GlobalTable"):
            regions = [str(replica["Region"]) for replica in table.properties.get("Replicas", [])]
            regions = [stack.region, *(region for region in regions if region != stack.region)]
            if len(regions) > 1:
                specs.append(cls(str(table.ref), tuple(regions)))
        return specs


@dataclass
class _Write:
    table: str
    source: str
    destination: str
    key: str  # the item's key attributes, JSON (DynamoDB wire format)
    due: float = 0.0  # DueQueue sets it


class GlobalTables:
    """Replicas and their replication (an ``Emulator``)."""

    def __init__(
        self,
        specs: list[GlobalTableSpec],
        services: Mapping[str, Services],
        faults: Faults,
        *,
        lag: float = DEFAULT_LAG,
    ) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self._services = services
        self._faults = faults
        self._lag = lag
        self._clock = next(iter(services.values())).clock
        self._queue: DueQueue[_Write] = DueQueue()
        self.copied = 0

    def install(self) -> None:
        """Each replica in the Regions that do not have it yet: same name, keys and billing."""
        for spec in self.specs.values():
            self._install(spec)

    def _install(self, spec: GlobalTableSpec) -> None:
        owner = self._services[spec.regions[0]].client("dynamodb")
        table = owner.describe_table(TableName=spec.name)["Table"]
        for region in spec.regions[1:]:
            request: dict[str, Any] = {
                "TableName": spec.name,
                "KeySchema": table["KeySchema"],
                "AttributeDefinitions": table["AttributeDefinitions"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if "StreamSpecification" in table:
                request["StreamSpecification"] = table["StreamSpecification"]
            self._services[region].client("dynamodb").create_table(**request)

    def reset(self) -> None:
        """After ``LocalCloud.reset``: nothing in flight, and every replica again a copy of its owner's
        table (emptied by a cold reset, kept by a warm one)."""
        for spec in self.specs.values():
            owner = self._services[spec.regions[0]].client("dynamodb")
            items = [
                item
                for page in owner.get_paginator("scan").paginate(TableName=spec.name, ConsistentRead=True)
                for item in page.get("Items", [])
            ]
            for region in spec.regions[1:]:
                self._services[region].client("dynamodb").delete_table(TableName=spec.name)
            self._install(spec)
            for region in spec.regions[1:]:
                replica = self._services[region].client("dynamodb")
                for item in items:
                    replica.put_item(TableName=spec.name, Item=item)
        self._queue.clear()  # the copies just written, and anything in flight before the reset

    @contextmanager
    def watching(self) -> Iterator[None]:
        """While active, every write to a global table in moto is queued for the other replicas."""
        from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

        originals = {
            name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")
        }
        tables = self

        def wrap(name: str) -> Any:
            original = originals[name]

            def write(backend: Any, *args: Any, **kwargs: Any) -> Any:
                result = original(backend, *args, **kwargs)
                table_name = args[0] if args else kwargs["table_name"]
                if table_name in tables.specs:
                    item = args[1] if len(args) > 1 else kwargs.get("item_attrs") or kwargs["key"]
                    table = backend.get_table(table_name)
                    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
                    tables.note(table_name, backend.region_name, {name: item[name] for name in names})
                return result

            return write

        for name in originals:
            setattr(DynamoDBBackend, name, wrap(name))
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(DynamoDBBackend, name, original)

    def note(self, table: str, region: str, key: Mapping[str, Any]) -> None:
        now = self._clock.now()
        text = json.dumps(dict(key), sort_keys=True)
        for destination in self.specs[table].regions:
            if destination != region:
                self._queue.push(_Write(table, region, destination, text), now + self._lag)

    # ------------------------------------------------------------------ the emulator protocol
    def pending(self) -> int:
        return len(self._queue)

    def next_due(self) -> float | None:
        return self._queue.next_due()

    def pump(self) -> int:
        now = self._clock.now()
        work = 0
        for write in self._queue.take(now):
            work += 1
            if self._faults.region_down(write.destination) or self._faults.region_down(write.source):
                back = self._faults.down_until(write.source, write.destination)  # inf: no end known
                self._queue.push(write, max(now + RETRY_SECONDS, back if back < float("inf") else 0.0))
                continue
            self._copy(write)
        return work

    def _copy(self, write: _Write) -> None:
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
        from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

        key = json.loads(write.key)
        item = (
            self._services[write.source]
            .client("dynamodb")
            .get_item(TableName=write.table, Key=key, ConsistentRead=True)
            .get("Item")
        )
        account = self._services[write.destination].stack.account_id
        replica = dynamodb_backends[account][write.destination].get_table(write.table)
        if item is not None:
            replica.put_item(item)
        else:
            hash_value = DynamoType(key[replica.hash_key_attr])
            range_value = DynamoType(key[replica.range_key_attr]) if replica.range_key_attr else None
            if replica.get_item(hash_value, range_value) is not None:
                replica.delete_item(hash_value, range_value)
        self.copied += 1
