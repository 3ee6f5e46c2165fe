"""The local cloud: template.yaml running on one machine, moto standing in for AWS, plus what moto lacks.

``cloud.LocalCloud`` is the entry point (docs/local-cloud.md). Nothing deployed imports this package;
it imports the deployed code.
"""
