"""core_clients."""
