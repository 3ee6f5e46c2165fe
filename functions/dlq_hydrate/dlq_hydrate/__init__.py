"""DLQ-hydrate: turn dead-letter messages (metadata only) into complete, replayable objects in S3."""
