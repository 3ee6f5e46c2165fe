"""Accepted means in the lake, exactly once and readable, however odd the (schema-valid) content.

Generated requests on the native route (``/v1/events``, one event or a batch) and the Segment routes
(``/v1/batch``, and each call type's own route) whose events the registry's schemas allow but whose
content is odd everywhere a client controls it (``tests/fuzz/odd_content.py``): every free-form
object (``data.properties``, ``traits``, Segment ``context``, ``integrations``, unknown top-level
fields, a batch's shared ``context``), every typed field up to its schema's bounds, and the envelope's
``context``. Each request runs through the whole pipeline of template.yaml on the local cloud
(validator, enrichment, S3 writer) until it is quiet. Then, for every event the answer calls
accepted: exactly one lake line with its event_id, in the partition of its ``derived_at``, that the
table's SerDe reads (``test_lake_table_reads.openx_row``), holding what the client sent but for the
documented standardisation (docs/lake.md, ``enrichment.standardise``): times in UTC milliseconds,
the envelope's ``context`` turned into ``user``/``page``/``campaign``/``library``/``network``/``locale``
(trimmed; codes lower case; the address as its network). No quarantine object, bad record, DLQ
message or dropped event may appear, and every lake line is an enriched signal of its contract
(contracts/enriched_batch). The partner (the API destination Pipe) must have got each of them once,
with the same content as its lake line. Rejections are the fuzz tests' business: not checked here.
The machinery is ``lake_property``'s, shared with the front-door buffer's test, the dead-letter
paths' (``test_dead_lettered_reaches_lake.py``) and other settings' (``..._settings.py``).
"""

from __future__ import annotations

from localcloud.cloud import LocalCloud
from tests.e2e.lake_property import examples, holds_for, native_requests, segment_requests, send

NATIVE_REQUESTS = examples(40)
SEGMENT_REQUESTS = examples(40)


def test_accepted_native_events_reach_the_lake_once_and_readable(warm_cloud: LocalCloud) -> None:
    # GIVEN native requests of schema-valid events with odd content in every field a client controls
    # WHEN each is sent and the pipeline drains
    # THEN each accepted event is one readable lake line of the contract, holding what was sent, and
    # at the partner once; nothing set aside
    holds_for(native_requests(), NATIVE_REQUESTS, lambda request: send(warm_cloud, request))


def test_accepted_segment_calls_reach_the_lake_once_and_readable(warm_cloud: LocalCloud) -> None:
    # GIVEN Segment requests of calls with odd content in every field a client controls
    # WHEN each is sent and the pipeline drains / THEN as for native events
    holds_for(segment_requests(), SEGMENT_REQUESTS, lambda request: send(warm_cloud, request))
