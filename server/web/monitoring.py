"""/healthz, /readyz and /metrics, and what every request leaves behind: an id, a log line, its timing.

- ``/healthz``: the process answers (no database): for a supervisor that restarts a hung server.
- ``/readyz``: the database is reachable and takes a write (``storage.health.probe_write``, a
  real commit), and its migrations are those of this server: for a load balancer, which sends
  traffic elsewhere while it says 503.
- ``/metrics``: Prometheus text (``server/monitoring/metrics.py``), with ``METRICS_TOKEN`` as a
  bearer token, or from this machine only when that is empty.

Every answer carries ``X-Request-Id`` (a sane one from a trusted proxy is kept, so the proxy's
log and ours share it) and writes one log line with the request's method, URL rule, status and
time, and the device or user behind it (docs/operations.md, "Logs").
"""

import hmac
import ipaddress
import logging
import re
import time
import uuid

from flask import Blueprint, Response, current_app, g, request

from migrations import migrations
from server import storage
from server.api.errors import error_response
from server.db import get_db
from server.manage import devices
from server.version import __version__

bp = Blueprint("monitoring", __name__)
log = logging.getLogger("hailong.request")

# What a proxy's request id may look like (nginx's $request_id is 32 hex digits); anything else is replaced.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
PROBES = frozenset(("/healthz", "/readyz", "/metrics"))


@bp.get("/healthz")
def healthz():
    return {"status": "ok", "version": __version__}


@bp.get("/readyz")
def readyz():
    problems = _unready()
    if problems:
        return error_response(503, "not_ready", "The server cannot take work now: " + "; ".join(
            message for messages in problems.values() for message in messages), problems,
            headers={"Retry-After": "10"})
    return {"status": "ready", "version": __version__}


def _unready():
    """``{check: [why]}`` for each check that fails; empty when ready."""
    from server.storage import health

    try:
        db = get_db()
        health.probe_write(db)
    except (*storage.Error, OSError) as exc:
        state = health.classify(exc, current_app.config["DATABASE"])
        return {"database": [f"the database does not take writes{f' ({state})' if state else ''}: {exc}"]}
    try:
        pending = [migration.name for migration in migrations.pending(db)]
    except storage.Error as exc:
        return {"migrations": [f"cannot read the applied migrations: {exc}"]}
    if pending:
        return {"migrations": [f"{len(pending)} migrations pending (first {pending[0]}): run `hailong migrate`"]}
    return {}


@bp.get("/metrics")
def metrics():
    refused = _metrics_refusal()
    if refused is not None:
        return refused
    from server.monitoring import figures, metrics as exposition

    db, config = get_db(), current_app.config
    body, content_type = exposition.exposition(figures.read(db, config, devices.fleet(db, config)),
                                               request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def _metrics_refusal():
    """None when this request may read /metrics, else the error answer."""
    token = current_app.config["METRICS_TOKEN"]
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return None
        return error_response(401, "unauthorized", "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.",
                              headers={"WWW-Authenticate": 'Bearer realm="hailong metrics"'})
    # A loopback request that carries X-Forwarded-For came through a proxy nobody told the server about
    # (TRUSTED_PROXIES=0): its client is elsewhere.
    forwarded = not current_app.config["TRUSTED_PROXIES"] and "X-Forwarded-For" in request.headers
    if _loopback(request.remote_addr) and not forwarded:
        return None
    return error_response(403, "forbidden", "/metrics answers only requests from this machine unless"
                          " METRICS_TOKEN is set.")


def _loopback(address):
    try:
        address = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def start_request():
    """First of the app's before-request hooks: the request's id and clock."""
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id", "")
    trusted = current_app.config["TRUSTED_PROXIES"] and REQUEST_ID.fullmatch(incoming)
    g.request_id = incoming if trusted else uuid.uuid4().hex


def finish_request(response):
    """Time the answer, count it, give it its id, and log it (probes only at DEBUG)."""
    started = g.get("request_started")
    if started is None:  # a request that never reached start_request
        return response
    from server.monitoring import metrics

    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else None
    metrics.observe_request(request.method, route, response.status_code, seconds)
    response.headers["X-Request-Id"] = g.request_id
    device, actor = g.get("device"), g.get("actor")
    level = logging.DEBUG if route in PROBES else logging.WARNING if response.status_code >= 500 else logging.INFO
    log.log(level, "%s %s %s", request.method, route or "(no route)", response.status_code, extra={
        "request_id": g.request_id, "method": request.method, "route": route, "status": response.status_code,
        "ms": round(seconds * 1000, 1), "device_id": device["id"] if device else None,
        "user_id": getattr(actor, "user_id", None),
    })
    return response


def init_app(app):
    """Before every other hook (so an early answer still gets its id), after the blueprints are added."""
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(finish_request)
    app.register_blueprint(bp)
