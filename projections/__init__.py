"""Read models built from the services' topics, and the HQ query API over them (port 8100)."""
