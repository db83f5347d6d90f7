"""The small shared kernel of the services' domains: money and the error vocabulary."""
