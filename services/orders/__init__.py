"""orders: dealer registry, product catalogue, dealer orders (port 8101)."""
