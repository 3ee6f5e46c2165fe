-- Events per type and UTC day, one row per event_id (parameters: first day, last day).
SELECT event_type,
       dt,
       count(*)                 AS events,
       count(DISTINCT event_id) AS distinct_events
FROM events_dedup
WHERE dt BETWEEN ? AND ?
GROUP BY event_type, dt
ORDER BY event_type, dt
