"""The local cloud: moto standing in for AWS, plus what moto lacks, for the demo and end-to-end tests.

Nothing deployed imports this package; it imports the deployed code.
"""
