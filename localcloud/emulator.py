"""What the cloud asks of every emulated service (``Emulator``): the behaviour moto lacks, run by one
loop on one clock.

The loop (``LocalCloud.pump`` / ``settle`` / ``serve_forever``) calls ``pump`` on every emulator of
every Region until a whole pass does no work, then asks each for ``next_due`` and moves the clock
there (the virtual clock jumps; the wall clock waits). An emulator keeps its own queue of work and
reads the stores through its Region's ``Services``; it needs no start or stop of its own (the Region
builds it, ``LocalCloud.reset`` builds it again).

A new emulated service is one module with a class that has these two methods, plus one line in
``Region.wire_emulators``.
"""

from __future__ import annotations

from typing import Protocol


class Emulator(Protocol):
    def pump(self) -> int:
        """Do everything that is due now on the cloud's clock; how much was done (0: nothing due)."""
        ...

    def next_due(self) -> float | None:
        """When (cloud-clock seconds) work is next due; now if some is waiting, None if idle."""
        ...
