"""What a screen needs, for both gateways: the ``screen`` dependency (``provider``), the screen
context and its screens (``context``), their typed data (``data``), typed parts and gather under
one deadline (``gather``), public section names (``sections``), and the input rules
(``rules``).

Imports ``shared.platform``, ``shared.identity`` and ``core_clients``."""
