-- Orders: 10 a second, by the same users, in EUR, USD and GBP.
CREATE STREAM IF NOT EXISTS orders (
  order_id   bigint,
  user_id    bigint,
  product_id bigint,
  amount     numeric(10,2),
  currency   text,
  ts         timestamptz
) WITH (connector = 'datagen', generator = 'orders', rate = '10', seed = '2');

-- Hourly revenue per currency.
CREATE MATERIALIZED VIEW IF NOT EXISTS revenue_hourly AS
  SELECT currency, window_start, window_end,
         count(*) AS orders, sum(amount) AS revenue, count(DISTINCT user_id) AS buyers
  FROM TUMBLE(orders, ts, INTERVAL '1 hour')
  GROUP BY currency, window_start, window_end;
