-- The base table against the view: with exactly-once writes, rows = distinct event_ids
-- (parameters: first day, last day).
SELECT count(*)                 AS rows,
       count(DISTINCT event_id) AS distinct_events
FROM events
WHERE dt BETWEEN ? AND ?
