-- Ride-hailing: 20 rides a second in eight cities, by 2000 drivers.
CREATE STREAM IF NOT EXISTS rides (
  ride_id   bigint,
  driver_id text,
  city      text,
  fare      numeric(10,2),
  status    text,              -- completed, cancelled, no_show
  ts        timestamptz
) WITH (connector = 'datagen', generator = 'rides', rate = '20', seed = '3');

-- Rides per city per minute.
CREATE MATERIALIZED VIEW IF NOT EXISTS rides_per_minute AS
  SELECT city, window_start, window_end,
         count(*) AS rides,
         count(*) FILTER (WHERE status = 'completed') AS completed,
         sum(fare) AS revenue,
         count(DISTINCT driver_id) AS drivers
  FROM TUMBLE(rides, ts, INTERVAL '1 minute')
  GROUP BY city, window_start, window_end;
