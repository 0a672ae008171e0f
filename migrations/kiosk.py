"""Migrations of the counter kiosk: staff sign-in/out events synced from tablets.

Names start with ``kiosk_`` and a number; never edit one that has shipped.
"""

from migrations import migrations  # noqa: F401
