"""The replay journal: a small JSON file listing every archive replay this tool started.

It is what lets the tool refuse a window that overlaps an earlier replay. Writes are atomic (a
temporary file renamed over the old one), so an interrupted run never leaves half a journal.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tools.replay_core import JournalEntry, ReplayToolError

JOURNAL_VERSION: Final = 1


def default_journal_path(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/customer-signals/replay-journal.json`` (``~/.local/state/...`` without it)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "customer-signals" / "replay-journal.json"


@dataclass(frozen=True, slots=True)
class Journal:
    path: Path

    def load(self) -> list[JournalEntry]:
        if not self.path.exists():
            return []
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return [JournalEntry.from_dict(item) for item in raw["replays"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ReplayToolError(
                f"journal {self.path} is unreadable ({error}); fix or move it: "
                "it is what guards against replaying a window twice"
            ) from error

    def save(self, entries: list[JournalEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": JOURNAL_VERSION, "replays": [entry.as_dict() for entry in entries]}
        handle, temporary = tempfile.mkstemp(prefix=".replay-journal-", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(body, stream, indent=2)
                stream.write("\n")
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def record(self, entry: JournalEntry) -> None:
        """Add ``entry``, or replace the entry of the same replay name."""
        entries = [existing for existing in self.load() if existing.name != entry.name]
        entries.append(entry)
        self.save(entries)
