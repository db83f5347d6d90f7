"""finance: dealer accounts, invoices, receipts, rebates (port 8103)."""
