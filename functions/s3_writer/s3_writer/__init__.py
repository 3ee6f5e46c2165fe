"""The S3 writer: the Lambda target of EventBridge Pipe "lake" (Kinesis source) that fills the data lake."""
