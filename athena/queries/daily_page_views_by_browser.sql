-- Daily page views by browser for a range of UTC days (parameters: first day, last day).
-- The filters on event_type and dt prune the projected partitions, through the view.
SELECT dt,
       device.browser_family AS browser,
       count(*)              AS page_views
FROM events_dedup
WHERE event_type = 'page_view'
  AND dt BETWEEN ? AND ?
GROUP BY dt, device.browser_family
ORDER BY dt, page_views DESC, browser
