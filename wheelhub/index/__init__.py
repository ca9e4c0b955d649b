"""The package index contract shared by the hub, the static target and the index client:
the hub's URL scheme, the simple API (render and parse), distribution files and their core
metadata, and the rules for names."""
