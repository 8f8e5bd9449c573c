-- E-commerce clickstream: 100 events a second; each user browses in bursts
-- (a session of about 20 events, seconds apart), with event times up to
-- 2 seconds out of order and one event in a thousand 2 minutes late. The
-- watermark trails the newest event time by 5 seconds; a click up to 30
-- seconds behind it still counts, a later one goes to sluice_late_events.
CREATE STREAM IF NOT EXISTS clicks (
  event_id   bigint,
  user_id    bigint,
  session_id bigint,
  event_type text,            -- page_view, add_to_cart, checkout, purchase
  page       text,
  product_id bigint,          -- NULL on the home and search pages
  price      numeric(10,2),
  ts         timestamptz,
  WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'datagen', generator = 'clicks', rate = '100', seed = '1',
        allowed_lateness = '30 seconds');

-- Events per minute, by type.
CREATE MATERIALIZED VIEW IF NOT EXISTS clicks_per_minute AS
  SELECT event_type, window_start, window_end, count(*) AS events
  FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
  GROUP BY event_type, window_start, window_end;

-- The same counts as final rows: one per minute and type, written once the
-- watermark has passed the minute (plus the allowed lateness), never
-- changed after; the state of closed minutes is freed.
CREATE MATERIALIZED VIEW IF NOT EXISTS clicks_per_minute_final AS
  SELECT event_type, window_start, window_end, count(*) AS events
  FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
  GROUP BY event_type, window_start, window_end
  EMIT ON WINDOW CLOSE;

-- Unique users over the last 5 minutes, every minute.
CREATE MATERIALIZED VIEW IF NOT EXISTS active_users_5m AS
  SELECT window_start, window_end, count(DISTINCT user_id) AS users, count(*) AS events
  FROM HOP(clicks, ts, INTERVAL '1 minute', INTERVAL '5 minutes')
  GROUP BY window_start, window_end;

-- Clicks enriched with the user's tier and country.
CREATE MATERIALIZED VIEW IF NOT EXISTS sales_by_segment AS
  SELECT u.tier, u.country,
         count(*) AS events,
         count(*) FILTER (WHERE c.event_type = 'purchase') AS purchases,
         sum(c.price) FILTER (WHERE c.event_type = 'purchase') AS revenue,
         count(DISTINCT c.user_id) AS users
  FROM clicks c JOIN users u ON c.user_id = u.user_id
  GROUP BY u.tier, u.country;

-- User sessions: a session ends after 30 minutes without a click. A click
-- that bridges two sessions merges them (the view retracts both and inserts
-- the merged one).
CREATE MATERIALIZED VIEW IF NOT EXISTS user_sessions AS
  SELECT user_id, window_start AS session_start,
         window_end - INTERVAL '30 minutes' AS last_click,
         window_end - INTERVAL '30 minutes' - window_start AS duration,
         count(*) AS events,
         count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
         count(*) FILTER (WHERE event_type = 'purchase') AS conversions
  FROM SESSION(clicks, ts, INTERVAL '30 minutes', user_id)
  GROUP BY user_id, window_start, window_end;

-- Clicks that came too late for their windows, per stream: nothing is
-- dropped silently.
CREATE MATERIALIZED VIEW IF NOT EXISTS late_clicks AS
  SELECT stream, count(*) AS late_events, max(watermark - event_time) AS worst_delay
  FROM sluice_late_events
  GROUP BY stream;
