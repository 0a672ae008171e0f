"""The tablet side of hailong: durable outbox, signing, and background sync.

Kept free of the server's dependencies (Flask, SciPy, ...) so a tablet install
stays small; see ``pyproject.toml``.
"""

__version__ = "0.1.0"
