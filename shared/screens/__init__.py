"""What a screen needs: the screen context, typed parts, gather, section names.

Imports ``shared.platform``, ``shared.identity`` and ``core_clients``."""
