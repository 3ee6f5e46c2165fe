"""What clients were told: per event, accepted, rejected (with its reasons) or still to retry."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Ledger:
    """What the API answered, per event: accepted, rejected (with its reasons) or still to retry."""

    sent: int = 0
    requests: int = 0
    resent: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    rejected_without_reason: int = 0
    reason_mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    retry: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None
    shares: dict[str, float] = field(default_factory=dict)  # seconds per ``timeshare`` share

    def rejected_by_reason(self) -> Counter[str]:
        return Counter(reasons[0] if reasons else "no reason" for reasons in self.rejected.values())

    def accept(self, event_id: str) -> None:
        self.accepted[event_id] += 1
        self.retry.discard(event_id)

    def reject(self, key: str, reasons: list[str], expected: str | None = None) -> None:
        self.rejected[key] = reasons
        if not reasons:
            self.rejected_without_reason += 1
        elif expected is not None and expected not in reasons:
            self.reason_mismatches.append((key, expected, ",".join(reasons)))

    @property
    def seconds(self) -> float:
        return (self.finished or time.perf_counter()) - self.started
