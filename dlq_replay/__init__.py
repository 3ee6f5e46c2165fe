"""The DLQ replay engine: select stored objects, send each back to its consumer, mark it done.

Called as functions with settings built in code (``ReplaySettings``), by the operator's command line
(``python -m tools.dlq``, a thin argv -> settings layer) and by the local cloud's runbook rehearsal
(``localcloud.recovery``). It imports the deployed code (the hydrate function's store and keys, the S3
writer's write path, the shared layer), never ``tools`` or ``localcloud``.
"""
