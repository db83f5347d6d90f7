"""inventory: warehouses and stock (port 8102)."""
