"""The no-loss accounting: what clients were told (``ledger``: ``Ledger``), where every signal is
(``census``: ``Census``, read through ``stores``), the balance (``report``: ``Report``) and how it is
printed (``render``).

Where things are is found from the template, not configured twice:

- the **lake**: the bucket in ``LAKE_BUCKET_NAME`` of the function a Pipe invokes, objects under its
  ``LAKE_PREFIX`` (gzip NDJSON, one signal per line) and bad records under ``BAD_PREFIX``;
- the **quarantine**: ``QUARANTINE_BUCKET_NAME`` of any function, under ``quarantine/``;
- the **DLQs**: every queue named as a rule target's or a Pipe's ``DeadLetterConfig``, a function's
  ``DeadLetterConfig`` or async ``OnFailure`` destination, a stream event source mapping's
  ``OnFailure`` destination, or an SQS redrive target. A Pipe's DLQ
  holds only the Pipe's view of one consumer (its messages are batch metadata: the records are read
  back from the stream, as the DLQ-hydrate function will); every other DLQ is upstream of all
  consumers. Messages are peeked (received, then made visible again), never consumed;
- a **DLQ store**: any ``*_BUCKET_NAME`` of a function whose name says DLQ (the DLQ-hydrate's S3 store,
  when it exists), every object read; ``replayed/`` objects count as replayed;
- the **partner**: what the local partner stand-in accepted;
- **dropped**: events AWS itself would have dropped (no DLQ, no destination) — counted as lost.

For each consumer (each Pipe): ``lost = accepted - (in its sink | in a DLQ it depends on | bad |
quarantined)``, all as sets of distinct ``event_id``s; ``unexpected`` = signals in a sink that no
client was told were accepted; ``duplicates in the sink`` = extra copies of a signal (the lake should
hold each exactly once).
"""

from localcloud.accounting.census import Census, DlqInfo, dead_letter_queues, take_census
from localcloud.accounting.ledger import Ledger
from localcloud.accounting.report import ConsumerBalance, Report, balance
from localcloud.accounting.stores import StoreReader

__all__ = [
    "Census",
    "ConsumerBalance",
    "DlqInfo",
    "Ledger",
    "Report",
    "StoreReader",
    "balance",
    "dead_letter_queues",
    "take_census",
]
