"""`make bench`: the platform's first benchmark.

One run starts the platform on its own (embedded PostgreSQL and Tansu unless DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS point elsewhere), measures the raw PostgreSQL commit ceiling, order
placement through HTTP against it, and the time from a command's answer until HQ can read it,
then prints a table and writes the figures to bench/results/<timestamp>.json.
"""
