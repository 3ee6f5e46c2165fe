"""Physical names for resources the template does not name, the way CloudFormation makes them.

CloudFormation names an unnamed resource ``<stack>-<LogicalId>-<random>``; locally the suffix is a
hash of the stack, its Region and the logical id, so every run (and every test) sees the same names,
and the same stack in two Regions gets different ones, as CloudFormation's random suffixes would
(an S3 bucket name is global: the two Regions' lakes must not collide).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Final

_SUFFIX_LENGTH: Final = 12


@dataclass(frozen=True, slots=True)
class PhysicalNames:
    stack_name: str
    region: str

    def suffix(self, logical_id: str) -> str:
        digest = hashlib.sha256(f"{self.stack_name}/{self.region}/{logical_id}".encode()).digest()
        return base64.b32encode(digest).decode()[:_SUFFIX_LENGTH]

    def name(
        self, logical_id: str, *, max_length: int = 64, lowercase: bool = False, fifo: bool = False
    ) -> str:
        tail = ".fifo" if fifo else ""
        suffix = self.suffix(logical_id)
        room = max_length - len(tail) - len(suffix) - 2
        stem = f"{self.stack_name}-{logical_id}"[:room]
        name = f"{stem}-{suffix}{tail}"
        return name.lower() if lowercase else name
