"""Test support: start real hubs, build fixture packages (not part of the package)."""
