"""Provisioning: every resource of the translated template created in moto, in dependency order.

Three kinds of resource:

- **created in moto** (buses, rules with their exact patterns and targets, archives, connections,
  API destinations, streams, queues, buckets, tables with TTL, secrets, KMS keys, log groups, Glue,
  SSM parameters, SNS topics, pipes): the local cloud then uses them through the AWS APIs;
- **run by the local cloud** (functions, event source mappings, async invoke configs, HTTP API
  routes): recorded with their resolved properties for the runtime and the emulators;
- **accepted without local effect** (IAM, resource policies, permissions, alarms, Route 53) and
  **not emulated** (anything else, e.g. the EventBridge global endpoint, which moto lacks): recorded
  with placeholder attributes so references resolve, in ``Stack.not_emulated``; the cloud logs what
  is left there once its Regions are joined (two Regions emulate the global endpoint).

Layout: ``engine`` (dependency order, conditions, ``Rules``, intrinsics and dynamic references,
placeholders: nothing about any one type), ``stack`` (``Resource``, ``Stack``), ``registry`` (the one
table of creators) and one module of creators per service (``events``, ``pipes``, ``kinesis``, ``sqs``,
``sns``, ``s3``, ``dynamodb``, ``secrets``, ``logs``, ``glue``).
"""

from localcloud.provision.engine import Provisioner, ProvisionSettings, check_rules, dependency_order
from localcloud.provision.registry import CREATORS, Creator
from localcloud.provision.stack import Resource, Stack

__all__ = [
    "CREATORS",
    "Creator",
    "ProvisionSettings",
    "Provisioner",
    "Resource",
    "Stack",
    "check_rules",
    "dependency_order",
]
