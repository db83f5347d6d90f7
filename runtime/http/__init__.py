"""What every HTTP app shares: problem+json errors, API-key auth, idempotent commands,
health, readiness and metrics."""
