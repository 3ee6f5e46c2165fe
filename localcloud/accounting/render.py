"""The report as an operator reads it: one labelled row per count, aligned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from localcloud import timeshare

if TYPE_CHECKING:
    from localcloud.accounting.report import Report


def rows(report: Report) -> list[tuple[str, str]]:
    ledger, census = report.ledger, report.census
    table = [
        ("sent", f"{ledger.sent:,} events in {ledger.requests:,} requests ({ledger.resent:,} resent)"),
        (
            "accepted",
            f"{len(ledger.accepted):,} distinct ({sum(ledger.accepted.values()):,} acceptances)",
        ),
        (
            "rejected",
            f"{len(ledger.rejected):,}  "
            + ", ".join(f"{r} {n}" for r, n in ledger.rejected_by_reason().most_common()),
        ),
        ("  without a reason", f"{ledger.rejected_without_reason:,}"),
        ("still to retry", f"{len(ledger.retry):,}"),
        (
            "enriched (on the stream)",
            f"{len(census.stream):,} distinct in {census.stream_records:,} records",
        ),
        ("quarantined", f"{len(census.quarantine):,}"),
    ]
    for b in report.balances:
        objects = (
            f" in {census.lake_objects:,} objects"
            if b.sink == "lake"
            else f" in {census.partner_requests:,} requests"
        )
        table.append(
            (f"{b.sink} ({b.consumer})", f"{b.in_sink:,} distinct ({b.copies_in_sink:,} rows){objects}")
        )
    table.append(("bad records", f"{len(census.bad):,} signals in {census.bad_objects:,} objects"))
    for name, ids in census.dlq.items():
        scope = census.dlq_scope.get(name) or "all consumers"
        unread = f", {census.dlq_unreadable[name]} unreadable" if census.dlq_unreadable[name] else ""
        hydrated = len(census.hydrated.get(name, ()))
        stored = f", {hydrated:,} hydrated into the DLQ store" if hydrated else ""
        gone = f", {census.unrecoverable[name]} unrecoverable" if census.unrecoverable[name] else ""
        gone += f", {census.unparsed[name]} unparsed" if census.unparsed[name] else ""
        table.append(
            (
                f"DLQ {name}",
                f"{census.dlq_messages[name]:,} messages, {len(ids):,} signals{stored}{gone}"
                f" ({scope}){unread}",
            )
        )
    if census.dlq_store or census.replayed:
        table.append(
            (
                "DLQ store, other",
                f"{len(census.dlq_store):,} signals ({census.unparsed['?']:,} unparsed messages of no "
                f"known DLQ), {len(census.replayed):,} replayed",
            )
        )
    table.append(("dropped by AWS rules", f"{len(census.dropped):,}"))
    table.append(("duplicates suppressed", f"{report.duplicates_suppressed:,}"))
    for b in report.balances:
        table.append((f"duplicates in {b.sink}", f"{len(b.duplicated):,}"))
        balance_text = (
            f"{len(b.lost):,}  = accepted {b.accepted:,} - {b.sink} {b.in_sink:,} - DLQ {b.in_dlq:,}"
            f" - set aside {b.set_aside:,}"
        )
        table.append((f"LOST ({b.sink})", balance_text))
        table.append((f"unexpected in {b.sink}", f"{len(b.unexpected):,}"))
        if b.delivered_unconfirmed:
            table.append((f"  in {b.sink}, client told to retry", f"{b.delivered_unconfirmed:,}"))
    seconds = ledger.seconds
    rate = len(ledger.accepted) / seconds if seconds else 0.0
    table.append(("time", f"{seconds:.1f} s, {rate:,.0f} accepted events per second"))
    if ledger.shares:
        table.append(("time shares", timeshare.describe(ledger.shares)))
    return table


def render(report: Report) -> str:
    width = max(len(label) for label, _ in rows(report))
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows(report))
