"""JSON API blueprints, and the device-token authentication they share."""

import functools

from flask import g, request
from werkzeug.exceptions import RequestEntityTooLarge

from device_client import jsontext
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
    """The request's JSON object, or an error in the one shape.

    415 ``unsupported_media_type`` unless the body says it is
    ``application/json`` (no Content-Type at all included); 413
    ``body_too_large`` past ``MAX_CONTENT_LENGTH``, with a Content-Length or
    chunked; 400 ``malformed_json`` for anything but UTF-8 JSON text of
    Unicode strings (no NaN or Infinity, no lone surrogate such as
    ``"\\ud800"``) nested at most ``jsontext.MAX_DEPTH`` deep; 400
    ``validation_error`` when it is not an object.
    """
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    body, problem = jsontext.parse(_body_bytes())
    if problem:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {problem}.")
    if not isinstance(body, dict):
        raise ApiError(400, "validation_error", "The body must be a JSON object.", {"_schema": ["Expected an object."]})
    return body


def _body_bytes():
    """The raw body; a 413 past ``MAX_CONTENT_LENGTH`` whether or not a Content-Length says so.

    Werkzeug refuses a Content-Length over the limit itself, but it stops
    reading a chunked body silently at the limit, so an oversized batch
    looked like cut-off JSON (400). One byte read past the limit tells the two
    apart.
    """
    limit = request.max_content_length
    if limit is None or request.content_length is not None:
        return request.get_data()
    data = request.stream.read()  # at most ``limit`` bytes
    if len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data
