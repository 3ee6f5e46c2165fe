"""The creator registry: one row per resource type the local cloud creates in moto.

A new type is a function ``(provisioner, logical_id, resolved_properties) -> Resource`` in the module of
its service, plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from localcloud.provision import dynamodb, events, glue, kinesis, logs, pipes, s3, secrets, sns, sqs
from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner

Creator = Callable[["Provisioner", str, dict[str, Any]], Resource]

CREATORS: Final[Mapping[str, Creator]] = {
    "AWS::Events::EventBus": events.bus,
    "AWS::Events::Rule": events.rule,
    "AWS::Events::Archive": events.archive,
    "AWS::Events::Connection": events.connection,
    "AWS::Events::ApiDestination": events.api_destination,
    "AWS::Pipes::Pipe": pipes.pipe,
    "AWS::Kinesis::Stream": kinesis.stream,
    "AWS::SQS::Queue": sqs.queue,
    "AWS::SNS::Topic": sns.topic,
    "AWS::S3::Bucket": s3.bucket,
    "AWS::DynamoDB::Table": dynamodb.table,
    "AWS::DynamoDB::GlobalTable": dynamodb.global_table,
    "AWS::SecretsManager::Secret": secrets.secret,
    "AWS::KMS::Key": secrets.kms_key,
    "AWS::KMS::Alias": secrets.kms_alias,
    "AWS::SSM::Parameter": secrets.ssm_parameter,
    "AWS::Logs::LogGroup": logs.log_group,
    "AWS::Glue::Database": glue.database,
    "AWS::Glue::Table": glue.table,
}
