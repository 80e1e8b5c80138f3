"""The ground floor: settings, errors, logging, telemetry, Redis, crypto, deadline, plugin.

Imports nothing else of this project."""
