"""One error shape for every API response: ``{"error": {"code", "message", "fields"}}``.

Views raise ``ApiError``; ``init_app`` turns it, marshmallow's
``ValidationError`` and every HTTP error Flask raises (404, 405, 413, ...)
into that shape, so a client never has to parse an HTML error page.
"""

from flask import jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error answered as JSON. ``headers`` carries e.g. ``Retry-After``."""

    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(status, code, message, fields=None, headers=None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_code(exc):
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }.get(exc.code, "http_error")


def init_app(app):
    @app.errorhandler(ApiError)
    def handle_api_error(exc):
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(ValidationError)
    def handle_validation_error(exc):
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(400, "validation_error", "The request has invalid fields.", fields)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc):
        message = exc.description or exc.name
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"The request body is larger than {limit} bytes."
        return error_response(exc.code, _http_code(exc), message)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", "The server failed while handling the request.")
