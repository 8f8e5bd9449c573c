CREATE TABLE mig_cities (city text PRIMARY KEY, country text NOT NULL);
CREATE STREAM mig_rides (ride_id int8, city text, fare numeric(10,2), ts timestamptz);
