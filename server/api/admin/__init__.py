"""The admin JSON API: everything the admin pages do, for scripts and other systems.

Authenticated by a personal API token (``Authorization: Bearer hlu_...``) or
the browser session (then with an ``X-CSRFToken`` header on writes). Each
view is documented with ``@doc`` so ``/api/openapi.json`` is generated from
the same schemas that validate requests.
"""

from flask import current_app, request

from server.db import get_db
from server.api.errors import ApiError


def doc(summary, body=None, response=None, many=False, status=200, query=None, tag=None, produces=None,
        files=None, throttled=False, caller="person", answers=None):
    """Attach OpenAPI facts to a view (read by server/openapi.py); ``produces``: a file's media type;
    ``files``: ``{field: required}`` of a multipart/form-data upload; ``throttled``: a password is checked
    (429 past the sign-in throttle); ``caller``: "person" (a token or a session), "device" (a tablet's
    token) or None (no credentials); ``answers``: ``{status: description}`` of errors beyond the usual."""

    def decorator(view):
        view.openapi = {"summary": summary, "body": body, "response": response, "many": many,
                        "status": status, "query": query, "tag": tag, "produces": produces, "files": files,
                        "throttled": throttled, "caller": caller, "answers": answers or {}}
        return view

    return decorator


def body(schema):
    """The JSON body loaded through ``schema`` (unknown and server-owned fields raise)."""
    from server.api import json_body

    return schema().load(json_body())


def query_args(schema):
    return schema().load(request.args.to_dict())


def db():
    return get_db()


def config():
    return current_app.config


def dump(schema, value, many=False):
    return schema(many=many).dump(value)


def missing_body_file(name):
    raise ApiError(400, "validation_error", "Send the file as multipart/form-data.", {name: ["Missing file."]})


def register(app):
    from server.api.admin import account, audit, calendar, devices, org, staff, users
    from server.api.admin import flags, objections, scales

    for module in (account, org, staff, devices, users, audit, flags, objections, calendar, scales):
        app.register_blueprint(module.bp)
    from server.api.admin import alerts  # issue 9: alerts

    app.register_blueprint(alerts.bp)
    from server.api.admin import scores  # issue 9: scores and periods

    app.register_blueprint(scores.bp)
    from server.api.admin import ledger  # issue 10: the tamper-evident log

    app.register_blueprint(ledger.bp)
    from server.api.admin import exports  # issue 10: verifiable exports

    app.register_blueprint(exports.bp)
