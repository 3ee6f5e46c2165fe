"""The hydrate function's collaborators, built once per container on first use (never at import)."""

from __future__ import annotations

from functools import cache

from dlq_hydrate.hydrate import Hydrator
from dlq_hydrate.settings import HydrateSettings
from dlq_hydrate.store import DlqStore
from dlq_hydrate.stream_reader import ReadPolicy, StreamReader


def build_hydrator(settings: HydrateSettings) -> Hydrator:
    return Hydrator(
        settings,
        reader=StreamReader(policy=ReadPolicy(limit=settings.get_records_limit)),
        store=DlqStore(settings.store_bucket_name),
    )


@cache
def hydrator() -> Hydrator:
    return build_hydrator(HydrateSettings.from_env())


def reset() -> None:
    """Forget the cached collaborators (tests change the environment between cases)."""
    if hydrator.cache_info().currsize:
        hydrator().close()
    hydrator.cache_clear()
