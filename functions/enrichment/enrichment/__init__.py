"""The enrichment function: verified signal batches from the ingress bus, standardised and enriched,
regrouped by partition key onto the data-platform bus, exactly once per batch id."""
