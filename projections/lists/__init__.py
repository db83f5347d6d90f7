"""The lists the console and API clients page through: one read model, a table per list."""
