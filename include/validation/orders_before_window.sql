-- Rows that existed at the window must be identical in the source and in the restored copy.
-- Runs through the Airflow connection awsdr_sql_<db id> (source) and the same connection with
-- the restored endpoint as host. %(window)s is the window of the copy being verified.
SELECT count(*), coalesce(sum(amount_cents), 0)
FROM orders
WHERE created_at < %(window)s
