"""Shared code of the customer-signal platform: contracts, schema registry, AWS clients, signing."""
