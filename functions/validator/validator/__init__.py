"""The validator: the ingestion edge behind ``POST /v1/events``."""
