"""One error shape for every API response: ``{"error": {"code", "message", "fields"}}``.

Actions raise domain errors (``server/errors.py``); views raise ``ApiError``
for what only HTTP has (401, 413, 415, 429 with ``Retry-After``).
``init_app`` turns both, marshmallow's ``ValidationError`` and every HTTP
error Flask raises (404, 405, 413, ...) into that shape, so a client never
has to parse an HTML error page. A database that cannot take writes now (a
full disk, a read-only file system, a lock held too long) is a 503 with
``Retry-After``, as JSON on the API and as a page on pages.
"""

import sqlite3

import psycopg

from flask import current_app, jsonify, render_template, request
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, IntegerConverter

from device_client.protocol import INT64_MAX

from server import db as request_db
from server.errors import ActionError, Conflict, Forbidden, Invalid, NotFound, Throttled, Unavailable
from server.schemas import flat_messages
from server.storage import health
from server.sync.rate import RateLimited

# The HTTP status of each domain error; a few codes carry their own.
STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 400, Throttled: 429, Unavailable: 503}
STATUS_BY_CODE = {"photo_too_large": 413, "batch_too_large": 413, "unsupported_media_type": 415, "code_expired": 410}


class ApiError(Exception):
    """An error answered as JSON. ``headers`` carries e.g. ``Retry-After``."""

    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def status_of(error):
    """The HTTP status for a domain error."""
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 400)


def error_response(status, code, message, fields=None, headers=None):
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def wants_page():
    """A person at a page address (say /admin/nothing) gets a page, not JSON."""
    return not request.path.startswith("/api/") and request.accept_mimetypes.accept_html


def unavailable_response(error):
    """503 for a database that cannot take writes now: the error shape (or a page) and ``Retry-After``."""
    headers = {"Retry-After": str(error.retry_after)}
    if wants_page():
        from server.web import translate  # pages sit beside the API; imported late, as pages import this module

        # public: the page looks nothing up (who is signed in), since the database may not even open.
        page = render_template("error.html", status=503, message=translate(error.message), public=True)
        return page, 503, headers
    return error_response(503, error.code, error.message, headers=headers)


def storage_unavailable(exc):
    """``Unavailable`` when ``exc`` means the database cannot take writes now, else None."""
    kind = health.classify(exc, current_app.config["DATABASE"])
    return Unavailable(kind) if kind else None


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


class Int64Converter(IntegerConverter):
    """``<int:...>`` in a URL: an id larger than SQLite's 64 bits names no row (404), not a 500.

    It is looked up as ``NO_ROW`` rather than refused by the converter: a
    refused one made Werkzeug answer 405 when another method's route of the
    same address took it (``DELETE .../assignments/9223372036854775808``
    beside its ``PATCH``), saying the address exists when nothing does.
    """

    NO_ROW = -1  # the digits-only pattern never gives a negative id, and no row has one

    def to_python(self, value):
        number = int(value)
        return number if number <= INT64_MAX else self.NO_ROW


class DateConverter(BaseConverter):
    """``<date:...>``: a calendar day's shape (``2026-09-02``) in a URL, so that a word beside it
    (``/holidays/import``) is a route of its own and not a day nobody has: no other method of a
    literal path falls through to the day's route."""

    regex = r"\d{4}-\d{2}-\d{2}"


def init_app(app):
    # Before any blueprint is registered: routes take their converters when they are added.
    app.url_map.converters["int"] = Int64Converter
    app.url_map.converters["date"] = DateConverter

    @app.errorhandler(ApiError)
    def handle_api_error(exc):
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(RateLimited)
    def handle_rate_limited(exc):
        seconds = max(1, int(exc.retry_after + 0.999))
        return error_response(429, "rate_limited", f"Too many requests from this device; retry after {seconds} s.",
                              headers={"Retry-After": str(seconds)})

    @app.errorhandler(ActionError)
    def handle_action_error(exc):
        if isinstance(exc, Unavailable):
            return unavailable_response(exc)
        return error_response(status_of(exc), exc.code, exc.message, exc.fields)

    @app.errorhandler(sqlite3.Error)
    @app.errorhandler(psycopg.Error)
    @app.errorhandler(OSError)
    def handle_storage_error(exc):
        """A full disk, a read-only database, a lock held too long: 503, and the request changed nothing.

        ``write_transaction`` rolled the transaction back. The thread's
        connection is dropped after a full or read-only disk, so the next
        request opens a fresh one: SQLite keeps a file it could only open
        read-only that way until it is reopened, and the server recovers by
        itself once the disk is put right.
        """
        error = storage_unavailable(exc)
        if error is None:
            return handle_unexpected(exc)
        app.logger.warning("storage unavailable (%s) on %s %s: %s", error.kind, request.method, request.path, exc)
        if error.kind != "busy":
            request_db.forget()
        return unavailable_response(error)

    @app.errorhandler(ValidationError)
    def handle_validation_error(exc):
        # Flat, as the one shape promises (a field path to its messages): a nested field's messages
        # were a nested object ({"levels": {"0": {"value": [...]}}}), not the list a client reads.
        fields = flat_messages(exc.messages) if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(400, "validation_error", "The request has invalid fields.", fields)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc):
        message = exc.description or exc.name
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            message = f"The request body is larger than {limit} bytes."
        # A 405 says which methods the address takes (RFC 9110 requires Allow); the shape below replaces
        # Werkzeug's own response, which carried it.
        headers = {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else {}
        if wants_page():
            return render_template("error.html", status=exc.code, message=gettext(exc.name)), exc.code, headers
        return error_response(exc.code, _http_code(exc), message, headers=headers)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "The server failed while handling the request.")
