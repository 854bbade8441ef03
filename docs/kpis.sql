-- apiscope's headline KPIs from a Parquet dataset written by
-- `apiscope flows … --format parquet`, as `apiscope stats` defines them (docs/stats.md).
--
-- Every query reads a table or view named `flows` (see docs/scale-out.md for creating it
-- in DuckDB and in Spark SQL) and is written in the SQL that both DuckDB (1.0 and later)
-- and Spark SQL (3.5 and later) accept: `percentile_disc(q) WITHIN GROUP (ORDER BY x)` is
-- the exact nearest-rank percentile (DuckDB's `quantile_disc(x, q)`), the definition
-- `stats` uses; NULL latencies (no response) are left out, as `stats` leaves them out.
--
-- Definitions: failed = did not complete, or status 0 (the `failed` column);
-- errored = 4xx, 5xx or failed; unavailable = 5xx or failed; server time = sum of TTFB.
-- Each query starts with a `-- query: NAME` line; the tests run every one of them.

-- query: totals
SELECT
  count(*) AS requests,
  sum(CASE WHEN failed OR status IS NULL OR status BETWEEN 400 AND 599 THEN 1 ELSE 0 END) AS errored,
  sum(CASE WHEN failed OR status IS NULL OR status BETWEEN 400 AND 599 THEN 1 ELSE 0 END) / count(*) AS error_rate,
  1 - sum(CASE WHEN failed OR status IS NULL OR status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) / count(*) AS availability,
  percentile_disc(0.50) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p50_us,
  percentile_disc(0.95) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p95_us,
  percentile_disc(0.99) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p99_us,
  percentile_disc(0.50) WITHIN GROUP (ORDER BY total_us) AS total_p50_us,
  percentile_disc(0.95) WITHIN GROUP (ORDER BY total_us) AS total_p95_us,
  percentile_disc(0.99) WITHIN GROUP (ORDER BY total_us) AS total_p99_us
FROM flows;

-- query: endpoints
SELECT
  endpoint,
  count(*) AS requests,
  sum(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS status_2xx,
  sum(CASE WHEN status BETWEEN 400 AND 499 THEN 1 ELSE 0 END) AS status_4xx,
  sum(CASE WHEN status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) AS status_5xx,
  sum(CASE WHEN failed THEN 1 ELSE 0 END) AS failed,
  sum(CASE WHEN failed OR status IS NULL OR status BETWEEN 400 AND 599 THEN 1 ELSE 0 END) / count(*) AS error_rate,
  1 - sum(CASE WHEN failed OR status IS NULL OR status BETWEEN 500 AND 599 THEN 1 ELSE 0 END) / count(*) AS availability,
  percentile_disc(0.50) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p50_us,
  percentile_disc(0.95) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p95_us,
  percentile_disc(0.99) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p99_us,
  percentile_disc(0.50) WITHIN GROUP (ORDER BY total_us) AS total_p50_us,
  percentile_disc(0.95) WITHIN GROUP (ORDER BY total_us) AS total_p95_us,
  percentile_disc(0.99) WITHIN GROUP (ORDER BY total_us) AS total_p99_us
FROM flows
GROUP BY endpoint
ORDER BY requests DESC, endpoint;

-- query: methods
SELECT method, count(*) AS requests
FROM flows
GROUP BY method
ORDER BY requests DESC, method;

-- query: statuses
SELECT status, count(*) AS requests
FROM flows
GROUP BY status
ORDER BY status;

-- query: client_shares
SELECT
  coalesce(client, '(unidentified)') AS client,
  count(*) AS requests,
  count(*) / sum(count(*)) OVER () AS share_requests,
  sum(request_wire_bytes + coalesce(response_wire_bytes, 0))
    / sum(sum(request_wire_bytes + coalesce(response_wire_bytes, 0))) OVER () AS share_bytes,
  sum(coalesce(ttfb_us, 0)) / sum(sum(coalesce(ttfb_us, 0))) OVER () AS share_server_time
FROM flows
GROUP BY coalesce(client, '(unidentified)')
ORDER BY requests DESC, client;

-- query: top_clients_by_server_time
SELECT
  coalesce(client, '(unidentified)') AS client,
  sum(coalesce(ttfb_us, 0)) AS server_time_us,
  count(*) AS requests,
  percentile_disc(0.50) WITHIN GROUP (ORDER BY ttfb_us) AS ttfb_p50_us
FROM flows
GROUP BY coalesce(client, '(unidentified)')
ORDER BY server_time_us DESC, client
LIMIT 20;
