"""identity: users with a role and scope, their passwords and API keys (as hashes only)."""
