"""``CloudOptions``: how a local cloud is started (template, config-env, seed, clock, faults...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TextIO

from localcloud.faults import Fault
from localcloud.runtime import Handler

ROOT: Final = Path(__file__).resolve().parents[1]


@dataclass
class CloudOptions:
    template: Path = ROOT / "template.yaml"
    config_env: str = "default"
    overrides: dict[str, str] = field(default_factory=dict)
    region: str | None = None
    stack_name: str | None = None
    seed: int = 7
    shards: int = 4
    server_port: int | None = None
    wall_clock: bool = False
    partner: bool = True
    log_level: str | None = "CRITICAL"
    function_output: TextIO | None = None
    window_scale: float = 1.0
    handlers: dict[str, Handler] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
