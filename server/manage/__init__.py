"""What the admin pages and the admin API do, checked against who is asking.

Each function takes ``(db, actor, ...)``, checks the actor's permission and
unit scope, writes in one transaction with its audit entry, and returns
plain dicts. Objects outside the actor's scope are answered exactly like
objects that do not exist (404), so nothing leaks.
"""

from server.errors import ApiError


def not_found(what):
    return ApiError(404, "not_found", f"No {what} with this code.")


def forbid():
    return ApiError(403, "forbidden", "Your roles do not allow this.")


def require(actor, permission):
    if not actor.can(permission):
        raise forbid()


def unknown_field(field, message):
    return ApiError(400, "validation_error", "The request has invalid fields.", {field: [message]})


def conflict(field, message):
    return ApiError(409, "conflict", message, {field: [message]})
