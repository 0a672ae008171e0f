"""Migrations of people, roles, API tokens and the audit log.

Names start with ``accounts_`` and a number; never edit one that has shipped.
"""

from migrations import migrations  # noqa: F401
