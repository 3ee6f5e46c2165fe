"""Where the replay tool sends a stored record back to, one class per kind of consumer.

- ``HttpTarget`` (partner): POST of the record's data to the partner's endpoint with ``x-api-key``
  and an ``Idempotency-Key`` (``<shardId>:<sequenceNumber>``) a partner can deduplicate on; any
  answer outside 2xx, a timeout or a refused connection is a failure.
- ``LakeTarget`` (lake): the S3 writer's own write path (``parse_records`` + ``BatchWriter``),
  in-process, built from the writer's settings, with the record in the Pipe's shape. It writes
  exactly what the Pipe would have written, and only for the lake: putting the record back on the
  stream would deliver it to EVERY Pipe again (duplicates at the partner). One record per call: the
  lake ledger claims each record (docs/adr/0004), so replaying it twice writes nothing the second
  time.
- ``StreamTarget`` (buffer: the front-door buffer's aged-out records): the record's data put back on
  the stream it came from (its ``streamArn``, or ``--stream``) with its partition key. The buffer
  stream has one consumer, the batcher, which packs it again; enrichment suppresses a signal batch it
  has already processed.
- ``BusTarget`` (enrichment, stream: rule-target failures): PutEvents of the whole stored event onto
  its bus (from the ``RULE_ARN`` attribute, or ``--bus``). Every rule of that bus sees it again;
  the platform's consumers are idempotent on the batch id / ``event_id``.

Each ``send`` raises ``ReplayTargetError`` when the consumer did not take the record. A target is
described by its settings (``HttpTargetSettings``, ``LakeTargetSettings``, ``BusTargetSettings``) and
built by ``build_target``; ``TARGET_BY_CONSUMER`` names the kind each known consumer goes back to.
"""

from __future__ import annotations

import base64
import http.client
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from signal_platform import aws_clients, codec
from signal_platform.errors import ReplayTargetError

if TYPE_CHECKING:
    from s3_writer.settings import S3WriterSettings
    from s3_writer.writer import BatchWriter

TargetKind = Literal["http", "lake", "bus", "stream"]
TARGET_BY_CONSUMER: Final[dict[str, TargetKind]] = {
    "partner": "http",
    "lake": "lake",
    "enrichment": "bus",
    "stream": "bus",
    "buffer": "stream",
}
RULE_ARN: Final = re.compile(r"arn:aws[a-z-]*:events:([a-z0-9-]+):[0-9]{12}:rule/(?:([^/]+)/)?[^/]+")


class Target(Protocol):
    name: str

    def send(self, stored: Mapping[str, Any]) -> None: ...


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """The record's data as the stream held it (JSON re-serialised compactly, or the raw bytes)."""
    if "data" in record:
        return codec.dumps(record["data"])
    return base64.b64decode(record.get("data_base64", ""))


def _record(stored: Mapping[str, Any]) -> Mapping[str, Any]:
    record = stored.get("record")
    if not isinstance(record, Mapping):
        raise ReplayTargetError("the object holds no Kinesis record (a rule-target event goes to a bus)")
    return record


class HttpTarget:
    """POSTs over one kept-alive connection per worker thread (no TLS handshake per record)."""

    name = "http"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        timeout: float = 10.0,
        connect: Callable[[str, str, int | None, float], http.client.HTTPConnection] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError(f"the partner URL must be http(s)://host/...: {url!r}")
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._api_key = api_key
        self._timeout = timeout
        self._connect = connect or _connect
        self._local = threading.local()

    def send(self, stored: Mapping[str, Any]) -> None:
        record = _record(stored)
        headers = {
            "content-type": "application/json" if "data" in record else "application/octet-stream",
            "idempotency-key": f"{record.get('shardId')}:{record.get('sequenceNumber')}",
        }
        if self._api_key:
            headers["x-api-key"] = self._api_key
        status = self._post(record_bytes(record), headers)
        if not 200 <= status < 300:
            raise ReplayTargetError(f"partner answered HTTP {status}")

    def _post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = self._connect(self._scheme, self._host, self._port, self._timeout)
                self._local.connection = connection
            try:
                connection.request("POST", self._path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if reused and attempt == 1:
                    continue  # the partner closed an idle kept-alive connection: once more, on a new one
                raise ReplayTargetError(f"partner not reachable: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise ReplayTargetError(f"partner not reachable: {exc}") from exc
            if response.will_close:
                self._drop()
            return int(response.status)
        raise ReplayTargetError("partner not reachable")  # pragma: no cover - the loop always returns

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _connect(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
    return http.client.HTTPConnection(host, port, timeout=timeout)


def pipe_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The stored record in the shape an EventBridge Pipe hands to a Lambda target."""
    stream_arn = str(record.get("streamArn", ""))
    sequence = str(record["sequenceNumber"])
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record["partitionKey"],
        "sequenceNumber": sequence,
        "data": base64.b64encode(record_bytes(record)).decode(),
        "approximateArrivalTimestamp": record["approximateArrivalTimestamp"],
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{record['shardId']}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "",
        "awsRegion": stream_arn.split(":")[3] if stream_arn.count(":") >= 5 else "",
        "eventSourceARN": stream_arn,
    }


class LakeTarget:
    name = "lake"

    def __init__(self, settings: S3WriterSettings) -> None:
        self._settings = settings
        self._writer: BatchWriter | None = None

    def send(self, stored: Mapping[str, Any]) -> None:
        from s3_writer.dependencies import build_batch_writer  # noqa: PLC0415 - only the lake needs it
        from s3_writer.records import parse_records  # noqa: PLC0415

        record = pipe_record(_record(stored))
        if self._writer is None:
            self._writer = build_batch_writer(self._settings)
        try:
            outcome = self._writer.write(parse_records([record]))
        except Exception as exc:
            raise ReplayTargetError(f"the S3 writer failed: {type(exc).__name__}: {exc}") from exc
        failures = outcome.response()["batchItemFailures"]
        if failures:
            raise ReplayTargetError(f"the S3 writer reported the record as failed: {failures}")


def bus_of(rule_arn: str) -> tuple[str, str]:
    """(Region, bus name) of a rule ARN; a rule of the default bus has no bus segment."""
    match = RULE_ARN.fullmatch(rule_arn)
    if match is None:
        raise ReplayTargetError(f"not an EventBridge rule ARN: {rule_arn!r}")
    return match.group(1), match.group(2) or "default"


class BusTarget:
    name = "bus"

    def __init__(
        self,
        *,
        bus: str | None = None,
        region: str | None = None,
        client: Callable[[str | None], Any] = lambda region: aws_clients.client("events", region),
    ) -> None:
        self._bus = bus
        self._region = region
        self._client = client

    def _event(self, stored: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str | None]:
        event = stored.get("event")
        if isinstance(event, Mapping):
            attributes = stored.get("dlq", {}).get("attributes", {})
            rule_arn = attributes.get("RULE_ARN") if isinstance(attributes, Mapping) else None
            region, bus = bus_of(rule_arn) if isinstance(rule_arn, str) else (None, None)
            bus = self._bus or bus
            if bus is None:
                raise ReplayTargetError("the event names no rule (no RULE_ARN attribute): pass --bus")
            return event, bus, self._region or region
        data = _record(stored).get("data")
        if not isinstance(data, Mapping) or self._bus is None:
            raise ReplayTargetError(
                "a Kinesis record goes to a bus only when it holds an event and --bus is given"
            )
        return data, self._bus, self._region

    def send(self, stored: Mapping[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        event, bus, region = self._event(stored)
        entry: dict[str, Any] = {
            "Source": event.get("source"),
            "DetailType": event.get("detail-type"),
            "Detail": codec.dumps(event.get("detail", {})).decode(),
            "EventBusName": bus,
        }
        if event.get("resources"):
            entry["Resources"] = list(event["resources"])
        try:
            response = self._client(region).put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise ReplayTargetError(f"PutEvents to {bus} failed: {type(exc).__name__}: {exc}") from exc
        if response.get("FailedEntryCount"):
            code = response.get("Entries", [{}])[0].get("ErrorCode")
            raise ReplayTargetError(f"PutEvents to {bus} refused the event: {code}")


class StreamTarget:
    name = "stream"

    def __init__(
        self,
        *,
        stream: str | None = None,
        client: Callable[[str | None], Any] = lambda region: aws_clients.client("kinesis", region),
    ) -> None:
        self._stream = stream
        self._client = client

    def send(self, stored: Mapping[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - lazy import

        record = _record(stored)
        stream_arn = str(record.get("streamArn", ""))
        region = stream_arn.split(":")[3] if stream_arn.count(":") >= 5 else None
        target = {"StreamName": self._stream} if self._stream else {"StreamARN": stream_arn}
        if not self._stream and not stream_arn:
            raise ReplayTargetError("the record names no streamArn: pass --stream")
        try:
            self._client(region).put_record(
                **target, Data=record_bytes(record), PartitionKey=str(record.get("partitionKey") or "replay")
            )
        except (ClientError, BotoCoreError) as exc:
            raise ReplayTargetError(f"PutRecord failed: {type(exc).__name__}: {exc}") from exc


# --- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpTargetSettings:
    url: str
    api_key: str | None = None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class LakeTargetSettings:
    writer: S3WriterSettings


@dataclass(frozen=True, slots=True)
class BusTargetSettings:
    bus: str | None = None  # None: the bus of each event's RULE_ARN
    region: str | None = None


@dataclass(frozen=True, slots=True)
class StreamTargetSettings:
    stream: str | None = None  # None: the stream each record came from (its streamArn)


TargetSettings = HttpTargetSettings | LakeTargetSettings | BusTargetSettings | StreamTargetSettings


def build_target(settings: TargetSettings) -> Target:
    if isinstance(settings, HttpTargetSettings):
        return HttpTarget(settings.url, settings.api_key, timeout=settings.timeout)
    if isinstance(settings, LakeTargetSettings):
        return LakeTarget(settings.writer)
    if isinstance(settings, StreamTargetSettings):
        return StreamTarget(stream=settings.stream)
    return BusTarget(bus=settings.bus, region=settings.region)


def api_key_from_secret(secret_id: str) -> str:
    """The partner's x-api-key from a Secrets Manager secret: a JSON object's ``api_key`` (or
    ``apiKey``, ``x-api-key``), else the whole secret string."""
    secret = aws_clients.client("secretsmanager").get_secret_value(SecretId=secret_id)
    text = str(secret.get("SecretString", ""))
    try:
        parsed = codec.loads(text)
    except codec.JSONDecodeError:
        return text
    if isinstance(parsed, dict):
        for name in ("api_key", "apiKey", "x-api-key"):
            if isinstance(parsed.get(name), str):
                return str(parsed[name])
    return text
