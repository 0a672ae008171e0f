"""JSON API blueprints, and the device-token authentication they share."""

import functools

from flask import g, request

from server.db import get_db
from server.api.errors import ApiError
from server.sync import enrollment


def device_required(view):
    """Authenticate ``Authorization: Bearer <token>``; the device lands in ``g.device``.

    Unknown, malformed and revoked tokens all get the same 401 so a caller
    learns nothing about which devices exist.
    """

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        device = None
        if scheme.lower() == "bearer" and token.strip():
            device = enrollment.authenticate(get_db(), token.strip())
        if device is None:
            raise ApiError(
                401,
                "unauthorized",
                "This device is not enrolled or has been revoked.",
                headers={"WWW-Authenticate": 'Bearer realm="hailong"'},
            )
        g.device = device
        return view(*args, **kwargs)

    return wrapped


def json_body():
    """The request's JSON object, or a 400 in the one error shape."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "malformed_json", "The body is not valid JSON.")
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", "The body must be a JSON object.", {"_schema": ["Expected an object."]})
    return body
