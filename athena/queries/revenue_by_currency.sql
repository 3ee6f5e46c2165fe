-- Purchase revenue per currency and UTC day; data is the event type's payload as JSON text
-- (parameters: first day, last day).
SELECT dt,
       json_extract_scalar(data, '$.currency')                            AS currency,
       count(*)                                                           AS purchases,
       round(sum(CAST(json_extract_scalar(data, '$.revenue') AS DOUBLE)), 2) AS revenue
FROM events_dedup
WHERE event_type = 'purchase'
  AND dt BETWEEN ? AND ?
GROUP BY dt, json_extract_scalar(data, '$.currency')
ORDER BY dt, currency
