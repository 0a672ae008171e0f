"""What an operator watches: structured logs (``logs``) and Prometheus metrics (``metrics``, ``figures``,
``multiprocess``). The routes and per-request hooks that use them are ``server/web/monitoring.py``.

``logs`` and ``multiprocess`` import no ``prometheus_client``: ``hailong serve``'s master uses them
before it sets ``PROMETHEUS_MULTIPROC_DIR``, which must happen before the client is first imported.
"""
