-- Reference data: the users the clicks and orders generators draw from
-- (user ids 1 to 10000). Tiers are 60 % free, 30 % plus, 10 % pro.
CREATE TABLE IF NOT EXISTS users (
  user_id bigint PRIMARY KEY,
  tier    text NOT NULL,
  country text NOT NULL
);

INSERT INTO users
SELECT g,
       (ARRAY['free', 'free', 'free', 'free', 'free', 'free', 'plus', 'plus', 'plus', 'pro'])[1 + g % 10],
       (ARRAY['FR', 'DE', 'ES', 'IT', 'NL', 'PL', 'GB', 'US'])[1 + (g / 10) % 8]
FROM generate_series(1, 10000) AS g
ON CONFLICT (user_id) DO NOTHING;
