"""The reference ERP consumer: what the ERP team builds on the platform's published events.

It stands outside the platform on purpose: it imports none of the platform's code, only
kafka-python, psycopg2, jsonschema and the exported JSON Schemas under contracts/schemas, as
a consumer in another team (or language) would. It reads the finance and inventory topics,
validates every envelope against the schema of its type and version, and posts double-entry
journal lines into its own PostgreSQL schema: idempotent by event id, reporting gaps in each
subject's sequence, replayable from a chosen position. ``python -m erp --help``.

- ``schemas``: the published schemas, one validator per event type and version;
- ``postings``: pure rules from an event to a balanced journal entry (the chart of accounts);
- ``ledger``: the ERP's tables, posting in one transaction per batch, the reports;
- ``consumer``: the Kafka side: a consumer group with manual commits, and replay.
"""
