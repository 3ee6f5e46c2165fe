"""The balance, per consumer: ``lost = accepted - (in its sink | in a DLQ it depends on | bad |
quarantined)``, all as sets of distinct ``event_id``s, and the ``Report`` that holds it."""

from __future__ import annotations

from dataclasses import dataclass

from localcloud.accounting.census import Census
from localcloud.accounting.ledger import Ledger
from localcloud.accounting.render import render, rows
from localcloud.pipes import PipeSpec


@dataclass(frozen=True, slots=True)
class ConsumerBalance:
    consumer: str
    sink: str
    accepted: int
    in_sink: int
    copies_in_sink: int
    in_dlq: int
    set_aside: int
    lost: tuple[str, ...]
    unexpected: tuple[str, ...]
    duplicated: tuple[str, ...]
    delivered_unconfirmed: int


def balance(ledger: Ledger, census: Census, pipes: list[PipeSpec]) -> list[ConsumerBalance]:
    accepted = set(ledger.accepted)
    upstream = census.dead_lettered_for(None)
    upstream |= set(census.quarantine) | set(census.dlq_store) | set(census.replayed)
    balances = []
    for pipe in pipes:
        own = census.dead_lettered_for(pipe.logical_id)
        if pipe.target_kind == "lambda":
            sink_name, sink, aside = "lake", census.lake, set(census.bad)
        else:
            sink_name, sink, aside = "partner", census.partner, set()
        in_sink = set(sink)
        dlq = (upstream | own) - in_sink
        lost = accepted - in_sink - dlq - aside
        balances.append(
            ConsumerBalance(
                consumer=pipe.logical_id,
                sink=sink_name,
                accepted=len(accepted),
                in_sink=len(in_sink & accepted),
                copies_in_sink=sum(sink.values()),
                in_dlq=len(dlq & accepted),
                set_aside=len(aside & accepted),
                lost=tuple(sorted(lost)),
                # Events the client was told to retry (and gave up on) may have got through anyway.
                unexpected=tuple(sorted(in_sink - accepted - ledger.retry)),
                delivered_unconfirmed=len(in_sink & ledger.retry),
                duplicated=tuple(sorted(event_id for event_id, copies in sink.items() if copies > 1)),
            )
        )
    return balances


@dataclass(frozen=True, slots=True)
class Report:
    ledger: Ledger
    census: Census
    balances: tuple[ConsumerBalance, ...]

    @property
    def lake(self) -> ConsumerBalance | None:
        return next((b for b in self.balances if b.sink == "lake"), None)

    @property
    def lost(self) -> int:
        return sum(len(b.lost) for b in self.balances)

    @property
    def unexpected(self) -> int:
        return sum(len(b.unexpected) for b in self.balances)

    @property
    def duplicates_suppressed(self) -> int:
        """Extra copies that existed upstream (client resends, redeliveries) but not in the lake."""
        accepted_extra = sum(self.ledger.accepted.values()) - len(self.ledger.accepted)
        stream_extra = sum(self.census.stream.values()) - len(self.census.stream)
        lake_extra = sum(self.census.lake.values()) - len(self.census.lake)
        return max(0, accepted_extra + stream_extra - lake_extra)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.unexpected == 0
            and self.ledger.rejected_without_reason == 0
            and not self.census.dlq_unreadable
            and not self.census.dropped
        )

    def rows(self) -> list[tuple[str, str]]:
        return rows(self)

    def render(self) -> str:
        return render(self)
