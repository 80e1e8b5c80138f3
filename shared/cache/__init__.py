"""The two-level cache (in-process LRU + Redis).

Imports only ``shared.platform``."""
