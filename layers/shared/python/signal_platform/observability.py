"""One logger, tracer and metrics object for every function (service name and namespace from env)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only AWS calls are traced: the functions call nothing else over the network or a database.
# Powertools' default patches every library the X-Ray SDK knows that imports (sqlite3 here, requests
# where installed) after trying each of them: about 10 ms of every cold start (30 ms where requests
# is installed, as in the dev environment; the layer has none).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
