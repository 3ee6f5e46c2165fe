SELECT event_id, schema_version, source, occurred_at, derived_at, received_at, ingest_region,
       request_id, partition_key, data, "user", page, campaign, device, network, locale, library,
       event_type, dt, hour
FROM (
    SELECT e.*,
           row_number() OVER (
               PARTITION BY e.event_type, e.dt, e.event_id
               ORDER BY e.received_at, e.request_id
           ) AS occurrence
    FROM events e
)
WHERE occurrence = 1
