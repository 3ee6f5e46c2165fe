"""The batcher: front-door buffer records in, full signal batches on the ingress bus out."""
